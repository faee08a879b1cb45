"""The local AWS as the VPC reaches it: its endpoint inside the VPC namespace.

On AWS a function in a VPC reaches the AWS APIs through the VPC's interface
endpoints, at the service's own name.  The local AWS listens on the machine's
loopback, which the VPC namespace (:mod:`smartstack.local.network`) does not
share and has no route to.  So the launcher opens a listener on the
namespace's own ``127.0.0.1`` (and ``::1``) at the local AWS's port and relays
each connection, byte for byte, to the server: a function's
``AWS_ENDPOINT_URL=http://localhost:<port>`` works unchanged inside, and
nothing else of the machine is reachable from there.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

from smartstack.local.network import PrivateNetwork

_LOG = logging.getLogger(__name__)
_BUFFER = 65536


def serve(network: PrivateNetwork, port: int) -> list[socket.socket]:
    """Listen on the namespace's loopback at ``port``; relay to ``127.0.0.1:port`` here."""
    listeners = []
    for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            listener = network.new_socket(family)
        except OSError:
            continue
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((address, port))
            listener.listen(64)
        except OSError as exc:
            listener.close()
            if family == socket.AF_INET:
                raise
            _LOG.info("VPC endpoint: no %s in %s (%s)", address, network.name, exc)
            continue
        listeners.append(listener)
        upstream = ("127.0.0.1", port)
        threading.Thread(target=_accept, args=(listener, upstream), daemon=True).start()
    return listeners


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
