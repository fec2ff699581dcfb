"""Result application (结果应用): from an evaluation grade to next year's budget action.

A finance bureau sets, per grade, an action and the share of the current budget it
recommends for next year. Defaults (practice; ``shared/domain``: results "与预算安排挂钩"):

====  ============  =====
grade action        share
====  ============  =====
优    优先保障        100 %
良    保持            100 %
中    核减            90 %  (a set percentage, configurable)
差    暂停或取消      0 %
====  ============  =====
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from workbench.core.numbers import round_half_up


@dataclass(frozen=True)
class Rule:
    action: str
    share: Decimal  # of the current budget, 0–2


DEFAULT_RULES: dict[str, Rule] = {
    "优": Rule("优先保障", Decimal(1)),
    "良": Rule("保持", Decimal(1)),
    "中": Rule("核减", Decimal("0.9")),
    "差": Rule("暂停或取消", Decimal(0)),
}


def rules_from(data: Mapping[str, Mapping[str, object]] | None) -> dict[str, Rule]:
    """Rules stored as JSON (``{"中": {"action": "核减", "share": "0.8"}}``) over the defaults;
    unreadable entries keep the default.

    >>> rules_from({"中": {"action": "核减", "share": "0.8"}})["中"]
    Rule(action='核减', share=Decimal('0.8'))
    """
    rules = dict(DEFAULT_RULES)
    for grade, item in (data or {}).items():
        if grade not in rules or not isinstance(item, Mapping):
            continue
        try:
            share = Decimal(str(item.get("share", rules[grade].share)))
        except ArithmeticError:
            continue
        if not share.is_finite() or not Decimal(0) <= share <= Decimal(2):
            continue
        action = str(item.get("action") or rules[grade].action)[:40]
        rules[grade] = Rule(action, share)
    return rules


@dataclass(frozen=True)
class Recommendation:
    grade: str
    action: str
    current: Decimal | None
    recommended: Decimal | None  # 万元, full precision

    @property
    def printed(self) -> str:
        return "—" if self.recommended is None else f"{round_half_up(self.recommended):,.2f}"


def recommend(
    grade: str | None, current: Decimal | None, rules: Mapping[str, Rule] | None = None
) -> Recommendation | None:
    """The action and the recommended next-year amount for a graded project.

    >>> r = recommend("中", Decimal("1580"))
    >>> r.action, r.printed
    ('核减', '1,422.00')
    >>> recommend(None, Decimal(1)) is None
    True
    """
    if not grade:
        return None
    rule = (rules or DEFAULT_RULES).get(grade)
    if rule is None:
        return None
    amount = None if current is None else current * rule.share
    return Recommendation(grade, rule.action, current, amount)
