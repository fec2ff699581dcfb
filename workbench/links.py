"""Links that leave the site (survey links and their QR codes, one-time-code sheets, expert
links and the e-mails carrying them).

They are built from the configured ``WORKBENCH_BASE_URL``, never from the request's ``Host``
header: a request sent with ``Host: evil.example`` must not print ``evil.example`` on a QR code
that is handed to respondents. Without a base URL (development and tests only: production
refuses to start without it or ``TRUSTED_HOSTS``, see :func:`workbench.config.
check_production_config`) the request's host is used, which ``TRUSTED_HOSTS`` restricts.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app, url_for


def external_url(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under ``WORKBENCH_BASE_URL`` (else the request's)."""
    base = str(current_app.config.get("WORKBENCH_BASE_URL") or "")
    if not base:
        return url_for(endpoint, _external=True, **values)
    parts = urlsplit(base.rstrip("/"))
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)
