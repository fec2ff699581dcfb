"""Issue #15: the README stands alone, and the user guide states the demo's numbers."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from workbench.demo import DEMO_TITLE, load_demo
from workbench.engagements.models import Engagement
from workbench.evaluation import result_of

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_refers_to_nothing_outside_the_repository():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "../" not in text and "/work/" not in text and "shared/" not in text
    for target in re.findall(r"\]\(([^)#]+)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (ROOT / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), target


def test_the_guide_states_the_demo_total_and_grade(session):
    load_demo(session)
    session.commit()
    demo = session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
    result = result_of(session, demo)
    caption = f"综合得分 {result.printed_total} 分，评价等级“{result.grade}”"
    guide = (ROOT / "docs" / "guide" / "evaluator.md").read_text(encoding="utf-8")
    assert caption in guide, caption
    for image in re.findall(r"\]\((img/[^)]+)\)", guide):
        assert (ROOT / "docs" / "guide" / image).exists(), image
