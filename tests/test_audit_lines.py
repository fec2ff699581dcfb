"""Issue #15: audit-log values are read as Chinese lines, never raw dicts; the panel's
agreement statistics say in Chinese why they are missing."""

import pandas as pd
import pytest
from flask import session as web_session

from workbench.core.agreement import TooFewRatings, icc, kendall_w
from workbench.labels import field_label, field_value


@pytest.fixture
def zh(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        web_session["lang"] = "zh_Hans_CN"
        yield


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("method", {"type": "manual"}, "评分方法：评价组评分"),
        ("data", {"met": [True, True, False]}, "满足的要点：3 项中 2 项"),
        ("data", {"numerator": "126.5", "denominator": "120"}, "分子：126.5；分母：120"),
        ("data", {"level": "achieved", "score": "6.5"}, "评定档次：达成"),
        ("rules", {"min_seconds": 30, "attention": True}, "是"),
        ("conflict", "none", "未申报利益冲突"),
    ],
)
def test_structured_audit_values_read_as_chinese_lines(zh, field, value, expected):
    text = field_value(field, value)
    assert expected in text, text
    assert "{" not in text and "'" not in text and "type" not in text


def test_indicator_fields_have_chinese_labels(zh):
    assert field_label("criteria") == "评分标准"
    assert field_label("method") == "评分方法"
    assert "分值" in field_label("D11.weight")


def test_too_few_ratings_is_explained_in_chinese(zh):
    from workbench.experts.views import _too_few

    with pytest.raises(TooFewRatings) as raters:
        kendall_w(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(TooFewRatings) as rows:
        icc(pd.DataFrame({"a": [1.0, None], "b": [2.0, 3.0]}))
    for exc in (raters.value, rows.value):
        text = _too_few(exc)
        assert not any("a" <= ch.lower() <= "z" for ch in text), text
    assert "2" in _too_few(raters.value) and "1" in _too_few(raters.value)
