"""The worked examples in the core's docstrings are part of the documented API: run them."""

import doctest
import importlib

import pytest

MODULES = [
    "workbench.core.numbers",
    "workbench.core.budget",
    "workbench.core.workflow",
    "workbench.core.goals",
    "workbench.core.weights",
    "workbench.core.scoring",
    "workbench.core.evaluation",
    "workbench.core.indicators",
    "workbench.core.agreement",
    "workbench.core.panel",
    "workbench.core.surveys",
    "workbench.core.safefiles",
    "workbench.core.reportqa",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
