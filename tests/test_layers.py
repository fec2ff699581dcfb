"""The import contracts of pyproject.toml ([tool.importlinter], docs/architecture.md "Layers")
hold, and they catch what they are for: a Flask import in the core, an upward import, a cycle.

`make test` runs `lint-imports` before pytest; this runs the same contracts so that a plain
pytest run (and CI on PostgreSQL) fails on a broken one too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LINT = (
    "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(no_cache=True))"
)


def lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the ``workbench`` package and the pyproject.toml found in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", LINT], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_import_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A copy of the package and its pyproject.toml, to break on purpose."""
    where = tmp_path_factory.mktemp("layers")
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    shutil.copytree(
        ROOT / "workbench",
        where / "workbench",
        ignore=shutil.ignore_patterns(
            "__pycache__", "templates", "static", "translations", "migrations"
        ),
    )
    return where


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/numbers.py", "import flask", "workbench.core imports no Flask"),
        ("core/numbers.py", "from workbench.db import db", "workbench.core imports no Flask"),
        (
            "accounts/models.py",
            "from workbench.reports.models import ReportVersion",
            "imports only downward",
        ),
        (  # a shared module below the areas may not import one
            "labels.py",
            "from workbench.scoring.models import IndicatorSystem",
            "imports only downward",
        ),
        (  # the kind of cycle that was dodged by an import inside a function
            "surveys/services.py",
            "def _late():\n    from workbench.surveys.builder import create_form",
            "no import cycles",
        ),
        ("surveys/services.py", "from workbench.surveys.views import bp", "never import a view"),
    ],
)
def test_a_broken_rule_fails_the_lint(copy, module, line, broken):
    path = copy / "workbench" / module
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original + "\n\n" + line + "\n", encoding="utf-8")
        result = lint(copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0, result.stdout
    broken_part = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in " ".join(broken_part.split()), result.stdout
