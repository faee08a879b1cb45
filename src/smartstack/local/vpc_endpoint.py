"""The local AWS as the VPC reaches it: a relay on the machine's end of the private network.

On AWS a function in a VPC reaches the AWS APIs through the VPC's endpoints
or a NAT gateway.  The local AWS listens on the machine's loopback, which the
VPC namespace (:mod:`smartstack.local.network`) does not share, so the launcher
also accepts connections on the network's machine address and relays each one,
byte for byte, to the server.  Nothing else of the machine is reachable from the
namespace.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

_LOG = logging.getLogger(__name__)
_BUFFER = 65536


def serve(listen: tuple[str, int], upstream: tuple[str, int]) -> socket.socket:
    """Accept on ``listen`` and relay every connection to ``upstream``, in daemon threads."""
    server = socket.create_server(listen, reuse_port=False)
    threading.Thread(target=_accept, args=(server, upstream), daemon=True).start()
    return server


def _accept(server: socket.socket, upstream: tuple[str, int]) -> None:
    while True:
        try:
            client, _ = server.accept()
        except OSError:
            return  # closed
        threading.Thread(target=_relay, args=(client, upstream), daemon=True).start()


def _relay(client: socket.socket, upstream: tuple[str, int]) -> None:
    try:
        backend = socket.create_connection(upstream, timeout=10)
    except OSError as exc:
        _LOG.warning("VPC endpoint: the local AWS at %s:%d is unreachable: %s", *upstream, exc)
        client.close()
        return
    backend.settimeout(None)
    back = threading.Thread(target=_pump, args=(backend, client), daemon=True)
    back.start()
    _pump(client, backend)
    back.join()
    client.close()
    backend.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy until ``source`` ends, then end ``sink``'s writing half."""
    try:
        while data := source.recv(_BUFFER):
            sink.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
    with contextlib.suppress(OSError):
        source.shutdown(socket.SHUT_RD)
