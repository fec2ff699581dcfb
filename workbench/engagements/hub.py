"""What the engagement pages show of the areas above engagements (dependency injection).

``engagements`` sits low in the layers (docs/architecture.md): the expert panel, the reports
and the archive import it, so it may not import them. Its overview page still shows their
facts (recused experts, reports sent to the bureau, the archive package) and moving an
engagement to 归档 builds the package. Those areas' functions are handed in here by the app
factory (:func:`workbench.create_app`); an app that wires nothing shows none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.engagements.models import Engagement

KEY = "workbench.engagement_hub"


class AlreadyBuilding(Exception):
    """A package of this engagement is being built."""


def _none(*_args: Any) -> None:
    return None


def _empty(*_args: Any) -> Sequence[Any]:
    return []


def _not_wired(*_args: Any) -> None:
    raise RuntimeError("archiving is not wired into this app (workbench.create_app)")


@dataclass
class Hub:
    #: the panel members who declared a conflict of interest (experts)
    recused: Callable[[Session, Engagement], Sequence[Any]] = _empty
    #: the engagement's report versions in the given statuses, newest first (reports)
    report_versions: Callable[[Session, Engagement, tuple[str, ...]], Sequence[Any]] = _empty
    #: the office converter's path, None when reports cannot be had as PDF (reports)
    pdf_converter: Callable[[], str | None] = _none
    #: start building the archive package in the background; raises AlreadyBuilding (archiving)
    start_archiving: Callable[[Flask, Engagement, User, int], None] = _not_wired
    #: the package build's progress, None when none was started (archiving)
    archive_status: Callable[[Engagement], dict[str, Any] | None] = _none
    #: where the engagement's archive package is (whether or not it exists) (archiving)
    archive_path: Callable[[Engagement], Path | None] = _none
    #: the finished package's manifest facts: retain_until, files, missing (archiving)
    archive_facts: Callable[[Path], dict[str, Any]] = _not_wired
    #: the budget-rate denominators the indicator system declares (scoring)
    declared_denominators: Callable[[Session, Engagement], dict[Any, Any]] = lambda *_a: {}
    #: the engagement's evaluated result (a ``workbench.core.evaluation.EngagementResult``,
    #: cached by data revision), None without an indicator system (evaluation): the scores and
    #: panel pages sit below ``workbench.evaluation`` and read the one result through here
    result_of: Callable[[Session, Engagement], Any] = _none
    #: the evidence files the team shared with the expert panel (workpapers)
    panel_documents: Callable[[Session, Engagement], Sequence[Any]] = _empty
    #: (file name, MIME type, bytes) of a document shared with the engagement's panel, None
    #: for any other id (workpapers)
    panel_document: Callable[[Session, Engagement, int], tuple[str, str, bytes] | None] = _none


def provide(app: Flask, **providers: Any) -> None:
    """Hand the app's providers in (unknown names are an error, not a silent no-op)."""
    hub = app.extensions.setdefault(KEY, Hub())
    for name, provider in providers.items():
        if not hasattr(hub, name):
            raise TypeError(f"the engagement hub has no provider {name!r}")
        setattr(hub, name, provider)


def hub() -> Hub:
    """The current app's providers."""
    found: Hub = current_app.extensions.setdefault(KEY, Hub())
    return found
