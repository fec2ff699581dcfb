"""Throttling of the public questionnaire's submissions, fit for shared networks.

A village or a school answers on one Wi-Fi: one public address for everybody. So stored
submissions are counted per survey and per browser/device id (the random id in the browser's
signed session cookie), per address only as a loose backstop, and for all respondents of the
survey together (the ceiling that protects the server). Only a stored response counts: a form
sent back for a missing answer, or refused, consumes no quota. The limits are checked before
the response is stored and counted after its commit, so simultaneous submissions can pass a
full limit by at most their number.
"""

from __future__ import annotations

from flask import current_app
from limits import RateLimitItem, parse_many

from workbench.extensions import limiter

#: (setting, what the count is kept per)
LIMITS = (
    ("SURVEY_RATE_LIMIT", "device"),
    ("SURVEY_ADDRESS_RATE_LIMIT", "address"),
    ("SURVEY_CEILING", "survey"),
)


def _checks(survey_id: int, device: str, address: str) -> list[tuple[RateLimitItem, list[str]]]:
    keys = {"device": device, "address": address, "survey": ""}
    out = []
    for setting, per in LIMITS:
        text = str(current_app.config.get(setting) or "").strip()
        if not text:
            continue  # switched off
        for item in parse_many(text):
            out.append((item, ["survey-submit", str(survey_id), per, keys[per]]))
    return out


def _on() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def allows(survey_id: int, *, device: str, address: str) -> bool:
    """Whether one more stored submission fits every limit (nothing is counted)."""
    if not _on():
        return True
    return all(
        limiter.limiter.test(item, *ids) for item, ids in _checks(survey_id, device, address)
    )


def count(survey_id: int, *, device: str, address: str) -> None:
    """Count one stored submission against every limit."""
    if not _on():
        return
    for item, ids in _checks(survey_id, device, address):
        limiter.limiter.hit(item, *ids)
