"""gunicorn settings of ``make run`` (``gunicorn -c python:workbench.gunicorn_conf``).

The access log masks expert links, public survey links and one-time codes
(:mod:`workbench.logmask`): a log file shipped to a log server or read by an operator must
not open an expert's sheet or answer a questionnaire in someone's name. The other settings
(bind, workers, timeout) stay on the command line.
"""

from __future__ import annotations

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
