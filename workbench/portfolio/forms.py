"""Portfolio forms."""

from __future__ import annotations

from collections.abc import Sequence

from wtforms import StringField

from workbench.forms import BaseForm


class RulesForm(BaseForm):
    """A bureau's result application rules: per grade an action and a budget share (%)."""

    grades: Sequence[str] = ()

    def rule(self, grade: str) -> tuple[str, str]:
        """The posted action and share (as typed, without a trailing %) of ``grade``."""
        index = self.grades.index(grade)
        action = getattr(self, f"action_{index}").data or ""
        share = getattr(self, f"share_{index}").data or ""
        return action, share.rstrip("%")


def rules_form(grades: Sequence[str]) -> RulesForm:
    """A :class:`RulesForm` for ``grades``; the fields are named as on the page
    (``action-优``, ``share-优``)."""
    fields = {}
    for index, grade in enumerate(grades):
        fields[f"action_{index}"] = StringField(name=f"action-{grade}")
        fields[f"share_{index}"] = StringField(name=f"share-{grade}")
    form_class = type("GradeRulesForm", (RulesForm,), {"grades": tuple(grades), **fields})
    return form_class()
