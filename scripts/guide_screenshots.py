"""The user guide's report screenshots, taken from the demo (`make guide-screenshots`).

Builds a throw-away SQLite database, migrates it to head, loads the demo (`flask demo`), serves
the app on a free loopback port and, in Debian's Chromium driven by Playwright (as tests/browser
does), issues the demo report the way its users would: the lead zhang.wei builds the report,
submits it and signs the first review level, the reviewer wang.fang signs the quality review,
the lead sends it for comments and issues it. The client czj.liu then opens the engagement.

Writes docs/guide/img/demo-report-issued.png (evaluator guide, 图 9) and
docs/guide/img/demo-client-issued-report.png (client guide, 图 1), both 1280 px wide. The
total and grade on them are the demo's (`workbench.evaluation.result_of`); the script checks
the page shows them before taking the picture.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from workbench import create_app  # noqa: E402
from workbench.db import db  # noqa: E402
from workbench.demo import DEMO_TITLE, load_demo  # noqa: E402
from workbench.engagements.models import Engagement  # noqa: E402
from workbench.evaluation import result_of  # noqa: E402

IMG = ROOT / "docs" / "guide" / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [  # the same flags as tests/browser/conftest.py
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 900}
LOGINS = {
    "zhang.wei": "demo-evaluator-2026",
    "wang.fang": "demo-reviewer-2026",
    "czj.liu": "demo-client-2026",
}
SHOTS = ("demo-report-issued.png", "demo-client-issued-report.png")
REPORT_NO = "青禾绩评字〔2026〕第017号"


def _app(folder: Path):  # type: ignore[no-untyped-def]
    return create_app(
        {
            "INSTANCE_PATH": str(folder / "instance"),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'guide.db'}",
            "SECRET_KEY": "guide-screenshots",
            "BABEL_DEFAULT_LOCALE": "zh_Hans_CN",
            "RATELIMIT_ENABLED": False,
            "SURVEY_IMPORT_INLINE": True,
            "ARCHIVE_BUILD_INLINE": True,
        }
    )


def _demo(app) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """Migrate, load the demo; the engagement id and its printed total and grade."""
    with app.app_context():
        upgrade()
        load_demo(db.session)
        db.session.commit()
        demo = db.session.scalar(sa.select(Engagement).where(Engagement.title == DEMO_TITLE))
        result = result_of(db.session, demo)
        return demo.id, str(result.printed_total), str(result.grade)


def _login(browser, base: str, username: str):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    page = ctx.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(LOGINS[username])
    page.locator("form button.w-100").click()
    page.wait_for_url("**/engagements/")
    return ctx, page


def _no_error(page) -> None:  # type: ignore[no-untyped-def]
    danger = page.locator(".alert-danger")
    if danger.count():
        raise SystemExit(f"{page.url}: {danger.all_inner_texts()}")


def _issue_and_shoot(browser, base: str, eng: str, total: str, grade: str) -> None:  # type: ignore[no-untyped-def]
    lead_ctx, page = _login(browser, base, "zhang.wei")
    page.goto(f"{eng}/report/")
    blocking = page.locator("#qa-problems [data-severity=blocking]")
    if blocking.count():
        raise SystemExit(f"report QA blocks the demo: {blocking.all_inner_texts()}")
    page.locator("#build").click()
    page.wait_for_selector("#v1")
    page.locator("#v1 form[action$='/submit'] button").click()
    page.wait_for_selector("#v1 [data-status=review]")
    page.locator("#v1 button[name=decision][value=approve]").click()  # 项目负责人复核
    page.wait_for_selector("#v1 [data-status=review]")
    _no_error(page)

    review_ctx, review = _login(browser, base, "wang.fang")
    review.goto(f"{eng}/report/")
    review.locator("#v1 input[name=comment]").fill("数据与底稿核对一致，同意。")
    review.locator("#v1 button[name=decision][value=approve]").click()  # 质控复核
    review.wait_for_selector("#v1")
    _no_error(review)
    review_ctx.close()

    page.goto(f"{eng}/report/")
    page.locator("#v1 form[action$='/consult'] button").click()
    page.wait_for_selector("#v1 [data-status=consultation]")
    page.locator("#v1 input[name=report_no]").fill(REPORT_NO)
    page.locator("#v1 form[action$='/issue'] button").click()  # confirm() accepted
    page.wait_for_selector("[data-status=issued]")
    _no_error(page)
    shown = (page.inner_text("#total"), page.inner_text("#grade"))
    if shown != (total, grade):
        raise SystemExit(f"report page shows {shown}, the demo's result is {(total, grade)}")
    page.screenshot(path=str(IMG / SHOTS[0]), full_page=True)
    lead_ctx.close()

    client_ctx, client = _login(browser, base, "czj.liu")
    client.goto(eng)
    client.wait_for_selector("#issued-reports")
    if REPORT_NO not in client.inner_text("#issued-reports"):
        raise SystemExit("the client does not see the issued report")
    client.screenshot(path=str(IMG / SHOTS[1]), full_page=True)
    client_ctx.close()


def main() -> None:
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian chromium is not installed (scripts/install-system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="guide-shots-") as tmp:
        app = _app(Path(tmp))
        engagement_id, total, grade = _demo(app)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log on stdout
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True
                )
                try:
                    _issue_and_shoot(
                        browser, base, f"{base}/engagements/{engagement_id}", total, grade
                    )
                finally:
                    browser.close()
        finally:
            server.shutdown()
            thread.join(timeout=5)
            with app.app_context():
                db.engine.dispose()
    print(f"demo total {total} {grade}: wrote {', '.join(SHOTS)} in {IMG}")


if __name__ == "__main__":
    main()
