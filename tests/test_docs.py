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


#: The guide's report screenshots: written by scripts/guide_screenshots.py from the demo.
DEMO_SHOTS = {
    "evaluator.md": "img/demo-report-issued.png",
    "client.md": "img/demo-client-issued-report.png",
}


def test_the_guide_s_report_screenshots_are_the_demo_ones():
    script = (ROOT / "scripts" / "guide_screenshots.py").read_text(encoding="utf-8")
    for page, image in DEMO_SHOTS.items():
        guide = (ROOT / "docs" / "guide" / page).read_text(encoding="utf-8")
        images = re.findall(r"\]\((img/[^)]+)\)", guide)
        assert image in images, (page, images)
        assert not [i for i in images if "report" in i and i not in DEMO_SHOTS.values()], images
        assert Path(image).name in script
        png = (ROOT / "docs" / "guide" / image).read_bytes()
        # a PNG 1280 pixels wide (IHDR width, big-endian at bytes 16-19): the desktop shot
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1280
