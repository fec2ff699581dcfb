"""gunicorn settings of ``make run`` and production: ``-c python:workbench.gunicorn_conf``.

* The access log masks expert links, public survey links and one-time codes
  (:mod:`workbench.logmask`): a log file shipped to a log server or read by an operator must
  not open an expert's sheet or answer a questionnaire in someone's name.
* Workers must not outlive their master. A sync worker only checks that its parent is alive
  between idle waits; under steady traffic it keeps accepting, so after a ``kill -9`` of the
  master alone its orphaned workers went on serving (and holding the port: the restart failed
  with "Address already in use"). On Linux each worker asks the kernel for SIGTERM when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``): it finishes the request in hand and exits.
  Under systemd, ``KillMode=mixed`` also stops every worker (docs/production.md).

The other settings (bind, workers, timeout) stay on the command line.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Any

from gunicorn.glogging import Logger

from workbench.logmask import mask_value


class MaskingLogger(Logger):
    """gunicorn's logger with every access-log atom passed through :func:`mask_value`
    (request line, path, query, referrer, ``Location`` and the ``{…}e`` environ atoms)."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        return {
            k: mask_value(v) for k, v in super().atoms(resp, req, environ, request_time).items()
        }


logger_class = MaskingLogger
accesslog = "-"


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
