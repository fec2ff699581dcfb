"""How the report names the experts: their names, or 专家A, 专家B, … when anonymised."""

from workbench.core.evaluation import PanelSummary
from workbench.core.panel import Aggregation


def _summary(anonymous: bool, n: int = 3) -> PanelSummary:
    experts = tuple(range(101, 101 + n))
    return PanelSummary(
        experts=experts,
        names={e: f"专家姓名{e}" for e in experts},
        aggregation=Aggregation.MEAN,
        leaves={},
        kendall_w=None,
        chi2=None,
        pvalue=None,
        anonymous=anonymous,
    )


def test_named_tables_print_the_names():
    assert [_summary(False).label(e) for e in (101, 102, 103)] == [
        "专家姓名101",
        "专家姓名102",
        "专家姓名103",
    ]


def test_anonymised_tables_print_letters_in_column_order_then_numbers():
    summary = _summary(True, n=28)
    assert [summary.label(e) for e in (101, 102, 103)] == ["专家A", "专家B", "专家C"]
    assert summary.label(126) == "专家Z" and summary.label(127) == "专家27"
