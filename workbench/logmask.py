"""Secrets out of the logs: expert links (``/x/<token>``), public survey links
(``/s/<token>``) and one-time survey codes (``?t=CODE``) are masked in every access-log line.

Used by the gunicorn logger of ``make run`` (:mod:`workbench.gunicorn_conf`) and, through
:func:`install_werkzeug_filter`, by Werkzeug's development server. Pure: no Flask.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "***"

#: the segment after a segment "x" or "s" (also under a path prefix; a harmless over-match
#: elsewhere is accepted: nothing else in the URL map has such a segment)
_PATH_TOKEN = re.compile(r"(/(?:x|s)/)[^/?#\s\"']+")
#: the value of a ``t`` query parameter, wherever the query string starts
_CODE_PARAM = re.compile(r"(^|[?&;])(t=)[^&#\s\"']*", re.IGNORECASE)


def mask_tokens(text: str) -> str:
    """``text`` with link tokens and ``t=`` codes replaced by ``***``.

    >>> mask_tokens('GET /x/Zr8fQ/sheet?t=K7P2&x=1 HTTP/1.1')
    'GET /x/***/sheet?t=***&x=1 HTTP/1.1'
    """
    if "/" not in text and "t=" not in text.lower():
        return text
    text = _PATH_TOKEN.sub(lambda m: m.group(1) + MASK, text)
    return _CODE_PARAM.sub(lambda m: m.group(1) + m.group(2) + MASK, text)


def mask_value(value: Any) -> Any:
    return mask_tokens(value) if isinstance(value, str) else value


class MaskTokensFilter(logging.Filter):
    """A logging filter masking tokens in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_tokens(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_value(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask_value(v) for k, v in record.args.items()}
        return True


def install_werkzeug_filter() -> None:
    """Mask the request lines of Werkzeug's development server (``flask run``)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, MaskTokensFilter) for f in logger.filters):
        logger.addFilter(MaskTokensFilter())
