"""Jinja filters and globals: numbers arrive formatted, templates never compute."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask, current_app
from flask_babel import format_date, format_datetime, get_locale
from flask_login import current_user

from workbench.core.numbers import format_number, format_percent
from workbench.labels import SURVEY_STATUS, action_label, label


def money(value: Decimal | None) -> str:
    return format_number(value)


def percent(value: Decimal | float | None) -> str:
    if isinstance(value, float):  # statistics arrive as floats
        value = Decimal(repr(value))
    return format_percent(value)


def local_datetime(value: dt.datetime | None) -> str:
    return "" if value is None else format_datetime(value, "yyyy-MM-dd HH:mm")


def local_date(value: dt.date | None) -> str:
    return "" if value is None else format_date(value, "yyyy-MM-dd")


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        money=money,
        percent=percent,
        label=label,
        datetime=local_datetime,
        date=local_date,
        action=action_label,
        status=lambda v: str(SURVEY_STATUS.get(v, v)),
    )

    @app.context_processor
    def _globals() -> dict[str, object]:
        locale = get_locale()
        return {
            "languages": current_app.config["LANGUAGES"],
            "current_language": str(locale) if locale else "",
            "html_lang": "zh-CN" if locale and locale.language == "zh" else "en",
            "current_user": current_user,
        }
