"""A local AWS that survives restarts: moto's state on disk (docs/local-platform.md).

:mod:`.log` is the write-ahead log, :mod:`.writes` tells writes from reads,
:mod:`.backends` captures moto's state and makes its ids repeat on replay, and
:mod:`.store` puts them together inside the server.
"""

from __future__ import annotations

STATE_DIR_VARIABLE = "SMARTSTACK_AWS_STATE_DIR"  # where the server keeps its state; unset: memory
STATE_DIR_NAME = "aws-state"
# Bytes of log after which the server writes a checkpoint (default: store.CHECKPOINT_AFTER).
CHECKPOINT_AFTER_VARIABLE = "SMARTSTACK_AWS_CHECKPOINT_AFTER"
