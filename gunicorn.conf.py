"""gunicorn settings read by ``make serve`` (and by any gunicorn started in this folder).

Workers must not outlive their master. A sync worker only checks that its parent is alive
between idle waits; under steady traffic it keeps accepting, so after a ``kill -9`` of the
master alone its orphaned workers went on serving (and holding the port: the restart failed
with "Address already in use"). On Linux each worker asks the kernel for SIGTERM when its
parent dies (``prctl(PR_SET_PDEATHSIG)``): it finishes the request in hand and exits.
Under systemd, ``KillMode=mixed`` also stops every worker (docs/production.md).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1


def post_fork(server: Any, worker: Any) -> None:
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        server.log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %s", ctypes.get_errno())
        return
    if os.getppid() != server.pid:  # the master died before the call: too late for the kernel
        os.kill(os.getpid(), signal.SIGTERM)
