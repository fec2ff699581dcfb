"""Issue #15: no English in the Chinese interface. The demo's main staff pages, read in zh,
show no raw Python dicts and none of the English messages that used to leak through."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest

from workbench.db import db
from workbench.demo import load_demo

#: English that reached the zh pages before (exception texts, untranslated labels)
KNOWN_ENGLISH = (
    "Cannot detect file format",
    "agreement needs at least",
    "dropped for missing scores",
    "raters, got",
    "Not valid YAML",
    "Traceback",
    "'before'",
    "'after'",
    "'type':",
    "None",
)
#: a Python dict or list repr: {'key': …} / [{'…
RAW_REPR = re.compile(r"\{\s*'[^']*'\s*:|\[\s*\{\s*'|\bDecimal\('")
SKIP = re.compile(r"\.(xlsx|docx|pdf|zip|csv|yaml|png|svg|js|css)($|\?)|/logout|/download|format=")


def _text(html: str) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return unescape(body)


def _links(html: str, prefix: str) -> set[str]:
    out = set()
    for href in re.findall(r'href="([^"#]+)', html):
        path = urlsplit(unescape(href)).path
        if path.startswith(prefix) and not SKIP.search(unescape(href)):
            out.add(path)
    return out


@pytest.mark.parametrize(
    ("username", "password"),
    [("zhang.wei", "demo-evaluator-2026"), ("wang.fang", "demo-reviewer-2026")],
)
def test_the_demo_staff_pages_in_chinese_have_no_raw_dicts_or_english(
    app, client, username, password
):
    load_demo(db.session)
    db.session.commit()
    client.post("/login", data={"username": username, "password": password})
    client.post("/language", data={"lang": "zh_Hans_CN"})  # after login, which renews the session
    start = client.get("/engagements/").get_data(as_text=True)
    assert "评价项目" in start or "项目" in start
    engagement = re.search(r'href="(/engagements/\d+)/?"', start)
    assert engagement is not None
    prefix = engagement.group(1)
    seen: dict[str, str] = {"/engagements/": start}
    queue = [prefix, f"{prefix}/audit", f"{prefix}/panel", f"{prefix}/scores"]
    while queue and len(seen) < 60:
        path = queue.pop(0)
        if path in seen:
            continue
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.content_type:
            seen[path] = ""
            continue
        html = response.get_data(as_text=True)
        seen[path] = html
        if path == prefix:  # the engagement's hub: every page it links to
            queue.extend(sorted(_links(html, prefix + "/")))
    problems = []
    for path, html in seen.items():
        text = _text(html)
        problems += [f"{path}: {p}" for p in KNOWN_ENGLISH if p in text]
        problems += [f"{path}: {m.group(0)}" for m in RAW_REPR.finditer(text)]
    assert len([p for p in seen.values() if p]) >= 8, sorted(seen)
    assert not problems, sorted(set(problems))


@pytest.mark.parametrize(
    ("payload", "name"),
    [(b"garbage, not a workbook", "goals.xls"), (b"PK\x03\x04truncated", "goals.xlsx")],
)
def test_a_goal_import_error_is_chinese(app, client, payload, name):
    import io

    load_demo(db.session)
    db.session.commit()
    client.post("/login", data={"username": "zhang.wei", "password": "demo-evaluator-2026"})
    client.post("/language", data={"lang": "zh_Hans_CN"})
    start = client.get("/engagements/").get_data(as_text=True)
    prefix = re.search(r'href="(/engagements/\d+)/?"', start).group(1)
    response = client.post(
        f"{prefix}/goals/import",
        data={"file": (io.BytesIO(payload), name)},
        content_type="multipart/form-data",
    )
    text = _text(response.get_data(as_text=True))
    assert response.status_code == 422
    assert "无法读取" in text or "不是有效" in text, text[-600:]
    assert "Cannot detect" not in text and "could not be read" not in text
    assert not re.search(r"[A-Za-z]{4,} [a-z]{3,} [a-z]{3,}", text.split("退出")[-1]), text[-600:]


def test_a_survey_import_error_is_chinese(app, client):
    import io

    load_demo(db.session)
    db.session.commit()
    client.post("/login", data={"username": "zhang.wei", "password": "demo-evaluator-2026"})
    client.post("/language", data={"lang": "zh_Hans_CN"})
    start = client.get("/engagements/").get_data(as_text=True)
    prefix = re.search(r'href="(/engagements/\d+)/?"', start).group(1)
    response = client.post(
        f"{prefix}/surveys/import",
        content_type="multipart/form-data",
        data={
            "imp-kind": "wjx",
            "imp-target": "",
            "imp-title": "受益群众满意度",
            "imp-group": "受益群众",
            "imp-population": "",
            "imp-file": (io.BytesIO(b"a,b\n1,2\n"), "e.csv"),
        },
    )
    page = client.get(response.location) if response.status_code == 302 else response
    text = _text(page.get_data(as_text=True))
    assert "序号" in text
    assert "does not look like" not in text and "no 序号 column" not in text
