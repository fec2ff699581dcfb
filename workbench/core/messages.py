"""Translatable message templates raised by the core.

The core knows nothing of Flask-Babel. It marks its user-facing message templates with
:func:`N_` (extracted by ``pybabel``), and the web layer translates ``template`` and formats it
with ``params``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def N_(template: str) -> str:  # noqa: N802 - gettext's conventional marker name
    """Mark ``template`` for extraction without translating it."""
    return template


@dataclass(frozen=True)
class Message:
    """A message template with its parameters (``template.format(**params)``)."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, translate: Any = None) -> str:
        """Format the (optionally translated) template."""
        text = translate(self.template) if translate else self.template
        return str(text).format(**self.params)


@dataclass(frozen=True)
class RowError:
    """One problem in an imported table. ``row`` is the 1-based spreadsheet row number."""

    row: int
    column: str | None
    message: Message

    def render(self, translate: Any = None) -> str:
        return self.message.render(translate)
