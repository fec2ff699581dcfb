"""Which bundled or uploaded templates suit an engagement, offered first (issue #15).

A 项目支出 engagement is proposed the 项目支出 frameworks first, a 部门整体 engagement the
部门整体 one; the rest follow in their usual order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.kinds import EvaluationKind

#: bundled templates by the kind of evaluation they are written for
BUNDLED_KIND = {
    "project-2020": EvaluationKind.PROJECT,
    "self-evaluation": EvaluationKind.PROJECT,
    "department-overall": EvaluationKind.DEPARTMENT,
}
#: words in an uploaded template's name that say which kind it is for
NAME_HINTS = {
    EvaluationKind.PROJECT: ("项目支出",),
    EvaluationKind.DEPARTMENT: ("部门整体",),
    EvaluationKind.POLICY: ("政策",),
}


def suits(code: str, template: Any, kind: EvaluationKind | None) -> bool:
    """Whether ``template`` is written for evaluations of ``kind``."""
    if kind is None:
        return False
    if code in BUNDLED_KIND:
        return BUNDLED_KIND[code] is kind
    return any(word in (template.name or "") for word in NAME_HINTS.get(kind, ()))


def ordered(templates: Mapping[str, Any], kind: EvaluationKind | None) -> list[tuple[str, Any]]:
    """``templates`` with those suiting ``kind`` first (otherwise in their given order)."""
    items = list(templates.items())
    return sorted(items, key=lambda item: not suits(item[0], item[1], kind))
