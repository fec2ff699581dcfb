"""Report templates run in the sandbox (issue #13): payloads refused at upload, never run."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from docxtpl import DocxTemplate

from tests.reports.test_workflow import login
from tests.security._template_payloads import (
    BUDGET_PAYLOADS,
    PLACES,
    RUNTIME_PAYLOADS,
    budget_context,
    docx_with,
    payloads,
)
from workbench.audit.models import AuditEntry
from workbench.reports import sandbox
from workbench.reports.models import ReportTemplateFile
from workbench.reports.render import TEMPLATES, bundled_path, render, render_bytes
from workbench.reports.templates_check import check_template, vet_template

NAMES = sorted(payloads(Path("m")))
RENDERED = ("body", "header", "footer", "title", "subject", "comments")  # keywords: not filled


def _cases():  # type: ignore[no-untyped-def]
    for name in NAMES:
        for place in PLACES:
            yield name, place


@pytest.mark.parametrize(("name", "place"), list(_cases()))
def test_every_payload_is_refused_at_upload_and_never_runs(name, place, tmp_path):
    marker = tmp_path / "pwned"
    data = docx_with(payloads(marker)[name], place)
    report = check_template(data, budget_context())
    assert not report.ok, (name, place)
    codes = {code for code, _params in report.errors}
    if place not in RENDERED:  # a property docxtpl never fills in: no tag at all there
        assert codes == {"refused_property"}
    elif name == "unknown variable":
        assert codes == {"unknown_variable"}
    else:
        assert codes and all(c.startswith("refused_") for c in codes), (name, place, codes)
    assert not marker.exists()
    if name in BUDGET_PAYLOADS and place in RENDERED:
        assert codes <= {"refused_operations", "refused_output"}
    elif name in RUNTIME_PAYLOADS and place in RENDERED:
        assert codes == {"refused_attribute"}
    else:  # refused before anything ran: by the static check alone
        assert not vet_template(data, {"title", "summary", "key_findings"}).ok


def test_the_check_names_the_part_a_payload_hides_in(tmp_path):
    source = "{{ title.__class__ }}"
    for place, part in (("header", "header"), ("footer", "footer"), ("title", "property")):
        report = check_template(docx_with(source, place), budget_context())
        assert [p["part"] for _c, p in report.errors] == [part]
    report = check_template(docx_with("{{ secret }}", "subject"), budget_context())
    assert report.errors == [
        (
            "unknown_variable",
            {
                "name": "secret",
                "part": "property",
                "property": "subject",
                "tag": "{{ secret }}",
                "paragraph": "{{ secret }}",
            },
        )
    ]


def test_absurd_nesting_is_a_message_not_a_crash():
    for source in (
        "{{ " + "(" * 3000 + "title" + ")" * 3000 + " }}",
        "{{ " + "not " * 5000 + "title }}",
        "{{ title" + ".a" * 20000 + " }}",
    ):
        report = check_template(docx_with(source, "header"), budget_context())
        assert report.errors == [("too_deep", {"part": "header", "property": ""})]
    loops = "{% for a in key_findings %}" * 30 + "x" + "{% endfor %}" * 30
    report = check_template(docx_with(loops), budget_context())
    assert [code for code, _params in report.errors] == ["no_render"]  # Python's own limit


def test_budgets_stop_a_render_of_any_template():
    huge = docx_with("{% for a in key_findings %}{{ summary }}{% endfor %}")
    with pytest.raises(sandbox.TemplateRefused) as caught:
        render_bytes(budget_context(), huge)
    assert caught.value.code == "output"
    deep = docx_with("{% for a in summary %}{% for b in summary %}x{% endfor %}{% endfor %}")
    with pytest.raises(sandbox.TemplateRefused) as caught:
        render_bytes(budget_context(), deep)
    assert caught.value.code == "operations"


def test_nothing_renders_outside_a_budget():
    template = sandbox.ENV.from_string("{% for x in xs %}{{ x }}{% endfor %}")
    with pytest.raises(sandbox.TemplateRefused):
        template.render(xs=[1])
    with sandbox.budget(operations=3), pytest.raises(sandbox.TemplateRefused):
        template.render(xs=[1, 2, 3])
    with sandbox.budget():
        assert template.render(xs=[1, 2]) == "12"


def test_the_sandbox_has_no_globals_and_only_the_allowed_filters():
    assert sandbox.ENV.globals == {}
    assert set(sandbox.ENV.filters) == set(sandbox.ALLOWED_FILTERS) | {"wb:loop"}
    assert sandbox.ENV.autoescape is True
    with sandbox.budget():
        out = sandbox.ENV.from_string(
            "{{ t|upper }}|{{ xs|join('、') }}|{{ xs|length }}|{{ missing|default('-') }}|"
            "{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}"
            "{% endfor %}|{% for k, v in pairs %}{{ k }}{{ v }}"
            "{% endfor %}|{{ a.b }}|{{ a['b'] }}|{{ '<w:t>' }}"
        ).render(t="ab", xs=["x", "y"], a={"b": 1}, pairs=[("k", 1)])
    assert out == "AB|x、y|2|-|1x,2y|k1|1|1|&lt;w:t&gt;"


def test_only_keys_positions_and_loop_counters_are_reachable():
    """No walk through the object graph: an image's template, a table's markup methods, a
    text's methods are out of reach (they are not keys of a mapping)."""
    from markupsafe import Markup

    class Image:  # what docxtpl's InlineImage holds: the whole DocxTemplate
        tpl = ("the document",)
        width = 150

    values = {"s": {"chart": Image(), "table": Markup("<w:tbl/>")}, "t": "文字", "xs": [1, 2]}
    for source, attribute in (
        ("{{ s.chart.tpl }}", "tpl"),
        ("{{ s.chart.width }}", "width"),
        ("{{ s.table.striptags }}", "striptags"),
        ("{{ t.upper }}", "upper"),
        ("{{ t['upper'] }}", "upper"),
        ("{% for x in xs %}{{ loop.cycle }}{% endfor %}", "cycle"),
        ("{{ xs.append }}", "append"),
    ):
        with sandbox.budget(), pytest.raises(sandbox.TemplateRefused) as caught:
            sandbox.ENV.from_string(source).render(values)
        assert (caught.value.code, caught.value.detail) == ("attribute", attribute), source
    with sandbox.budget():
        out = sandbox.ENV.from_string(
            "{{ s.table }}{{ s['table'] }}{{ t[0] }}{{ xs[1] }}"
            "{% for x in xs %}{{ loop.index0 }}{{ loop.length }}{{ loop.first }}{% endfor %}"
        ).render(values)
    assert out == "<w:tbl/><w:tbl/>文2" + "02True12False"


def test_bundled_templates_render_exactly_as_before(demo, session, monkeypatch):
    """The sandbox changes nothing for the bundled templates: every part of the .docx is the
    one docxtpl's plain Jinja environment wrote (as before issue #13)."""
    from workbench.reports.context import build_context

    context = build_context(session, demo["engagement"])
    sandboxed = {name: render(context, bundled_path(name)) for name in TEMPLATES}
    real = DocxTemplate.render

    def plain(self, values, jinja_env=None, autoescape=False):  # the old call
        return real(self, values, autoescape=True)

    monkeypatch.setattr(DocxTemplate, "render", plain)
    for name in TEMPLATES:
        old = render(context, bundled_path(name))
        with (
            zipfile.ZipFile(io.BytesIO(sandboxed[name])) as a,
            zipfile.ZipFile(io.BytesIO(old)) as b,
        ):
            assert a.namelist() == b.namelist()
            for entry in a.namelist():
                assert a.read(entry) == b.read(entry), (name, entry)
        assert check_template(bundled_path(name).read_bytes(), context).ok


def _upload(client, eid, data, scope="engagement"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/engagements/{eid}/report/templates",
        content_type="multipart/form-data",
        data={"name": "本所模板", "scope": scope, "file": (io.BytesIO(data), "t.docx")},
    )


def test_uploads_are_refused_in_chinese_store_nothing_and_leak_nothing(
    demo, client, session, app, tmp_path
):
    login(client, demo["users"]["zhang.wei"])
    client.post("/language", data={"lang": "zh_Hans_CN"})
    eid = demo["engagement"].id
    marker = tmp_path / "pwned"
    found = payloads(marker)
    cases = [
        (docx_with(found["config"]), "正文中使用了报告模板不允许的名称“config”"),
        (docx_with(found["cycler"], "title"), "文档属性“title”中"),
        (docx_with(found["__subclasses__"], "header"), "页眉中"),
        (docx_with(found["attr chain"], "footer"), "页脚中使用了报告模板不允许的过滤器“attr”"),
        (docx_with(found["percent format"]), "正文中使用了报告模板不允许的“%”"),
        (docx_with(found["str.format"]), "正文中"),
        (docx_with(found["self"]), "正文中"),
        (docx_with(found["request"]), "正文中"),
    ]
    secret = app.config["SECRET_KEY"]
    database = str(app.config["SQLALCHEMY_DATABASE_URI"])
    for data, message in cases:
        response = _upload(client, eid, data)
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert message in page and "模板未保存" in page
        assert secret not in page and database not in page
    assert not marker.exists()
    assert session.scalar(sa.select(sa.func.count()).select_from(ReportTemplateFile)) == 0
    deep = _upload(client, eid, docx_with(found["deep loops"]))
    assert deep.status_code == 422 and "模板运算量过大" in deep.get_data(as_text=True)


def test_who_uploads_templates_and_where_they_are_offered(demo, client, session):
    from workbench.reports.services import template_choices

    users, engagement = demo["users"], demo["engagement"]
    eid = engagement.id
    good = bundled_path("project").read_bytes()
    for name in ("li.na", "wang.fang"):  # a team member, the reviewer: not theirs to upload
        login(client, users[name])
        assert _upload(client, eid, good).status_code == 403
    login(client, users["zhang.wei"])  # the lead: this engagement only
    refused = _upload(client, eid, good, scope="organisation")
    assert refused.status_code == 403
    assert "Only an administrator uploads templates for the whole firm." in refused.get_data(
        as_text=True
    )
    assert _upload(client, eid, good, scope="everything").status_code == 400
    assert _upload(client, eid, good).status_code == 302
    login(client, users["admin"])
    assert _upload(client, eid, good, scope="organisation").status_code == 302
    stored = session.scalars(sa.select(ReportTemplateFile).order_by(ReportTemplateFile.id)).all()
    assert [(t.engagement_id, t.organisation_id is not None) for t in stored] == [
        (eid, False),
        (None, True),
    ]
    audit = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "report.template").order_by(AuditEntry.id)
    ).all()
    assert [a.user_id for a in audit] == [users["zhang.wei"].id, users["admin"].id]
    # a firm-wide template a team member stored under an earlier version is offered nowhere
    legacy = ReportTemplateFile(
        organisation_id=users["zhang.wei"].organisation_id,
        engagement_id=None,
        name="旧的全所模板",
        filename="old.docx",
        stored_as="old.docx",
        uploaded_by_id=users["li.na"].id,
    )
    session.add(legacy)
    session.commit()
    offered = [c.key for c in template_choices(session, engagement, Path("."))]
    assert offered == [*TEMPLATES, f"file:{stored[0].id}", f"file:{stored[1].id}"]


def test_cli_rechecks_every_stored_template(
    app, session, make_org, make_user, make_engagement, tmp_path
):
    """`flask report check-templates`: what an operator runs after upgrading."""
    from workbench.accounts.models import OrganisationKind, Role

    firm = make_org(OrganisationKind.FIRM)
    admin, lead = make_user(Role.ADMIN), make_user(Role.EVALUATOR)
    engagement = make_engagement(lead=lead)
    folder = Path(app.instance_path) / "report-templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "good.docx").write_bytes(bundled_path("project").read_bytes())
    marker = tmp_path / "pwned"
    (folder / "bad.docx").write_bytes(docx_with(payloads(marker)["cycler"], "title"))
    for name, stored, uploader, eid in (
        ("好模板", "good.docx", admin, None),
        ("坏模板", "bad.docx", lead, engagement.id),
        ("旧全所模板", "good.docx", lead, None),
    ):
        session.add(
            ReportTemplateFile(
                organisation_id=None if eid else firm.id,
                engagement_id=eid,
                name=name,
                filename=stored,
                stored_as=stored,
                uploaded_by_id=uploader.id,
            )
        )
    session.commit()
    result = app.test_cli_runner().invoke(args=["report", "check-templates"])
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert [line.split()[0] for line in lines if line.startswith(("ok", "REFUSED"))] == [
        "ok",
        "ok",
        "ok",
        "ok",
        "REFUSED",
        "ok",
    ]
    assert "refused_syntax: part=property, property=title, detail=()" in result.output
    assert "not offered: firm-wide, but not uploaded by an admin" in lines[-2]
    assert "3 stored template(s) checked, 1 refused" in lines[-1]
    assert not marker.exists()


# --- found by the review of the merged change (issue #13): resources past the budget --------


def test_round_is_not_a_filter_a_template_may_use():
    # `|round(8, 'floor')` built value * 10**8 in one step (1.3 GB, never counted)
    for text in ("{{ title|round(8, 'floor') }}", "{{ total|round(10000000, 'ceil') }}"):
        with pytest.raises(sandbox.TemplateRefused) as caught:
            sandbox.ENV.parse(text)
        assert (caught.value.code, caught.value.detail) == ("filter", "round")


def test_joins_are_capped_each_and_together():
    one = "{% if (summary|join(summary))|join('') %}x{% endif %}"  # 12 s and 3 GB before
    many = (
        "{% for a in key_findings %}{% if (summary|join(summary))|join('') %}{% endif %}"
        "{% endfor %}"  # 40 × a 2 M-character join: accepted by the upload check in 23 s
    )
    for text, summary in ((one, "长" * 5_600), (many, "长" * 1_500)):
        template = sandbox.ENV.from_string(text)
        with sandbox.budget(), pytest.raises(sandbox.TemplateRefused) as caught:
            template.render(summary=summary, key_findings=list(range(40)))
        assert caught.value.code == "output"
    with sandbox.budget():  # a join of ordinary size still works, many times over
        small = sandbox.ENV.from_string("{% for a in xs %}{{ ys|join('、') }}{% endfor %}")
        assert small.render(xs=range(100), ys=["甲", "乙"]) == "甲、乙" * 100


def test_a_filter_call_reads_the_clock(monkeypatch):
    template = sandbox.ENV.from_string("{{ t|upper }}")
    with sandbox.budget(seconds=0.0), pytest.raises(sandbox.TemplateRefused) as caught:
        template.render(t="x")  # one operation: without the clock at each filter it passed
    assert caught.value.code == "time"


def test_too_many_tags_are_refused_before_jinja_parses_them():
    half = "{{ title }}" * (sandbox.MAX_TAGS // 2 + 1)
    with pytest.raises(sandbox.TemplateRefused) as caught:
        sandbox.ENV.parse(half + half)  # 100,000 tags took 18 s and 1.2 GB to parse
    assert caught.value.code == "tags"
    with pytest.raises(sandbox.TemplateRefused) as caught:
        sandbox.ENV.parse("x" * (sandbox.MAX_SOURCE + 1))
    assert caught.value.code == "size"
    sandbox.ENV.parse(half)  # half the cap in one part is fine …
    with sandbox.budget():  # … but a render counts every part of the document together
        sandbox.ENV.parse(half)
        with pytest.raises(sandbox.TemplateRefused) as caught:
            sandbox.ENV.parse(half)
    assert caught.value.code == "tags"
    report = vet_template(docx_with(half + half), {"title"})  # the upload check: all parts
    assert [code for code, _params in report.errors] == ["refused_tags"]


def test_a_stored_template_that_no_longer_renders_is_a_message_not_a_500(
    app, session, make_engagement, monkeypatch, tmp_path
):
    from workbench.reports import services

    def property_too_long(*args, **kwargs):  # python-docx: a core property past 255 chars
        raise ValueError("exceeded 255 char limit for property, got: 300")

    monkeypatch.setattr(services, "render", property_too_long)
    engagement = make_engagement()
    template = services.template_choices(session, engagement, tmp_path)[0]
    with pytest.raises(services.ReportError) as caught:
        services.build(session, None, engagement, template, folder=tmp_path)
    assert caught.value.code == "template_refused"


def _two_sections_with_a_footnote(text: str) -> bytes:
    """A .docx of two sections whose footnotes part holds ``text``."""
    from docx import Document

    document = Document()
    document.add_paragraph("{{ title }}")
    document.add_section()
    document.add_paragraph("第二节")
    out = io.BytesIO()
    document.save(out)
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    footnotes = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:footnotes xmlns:w="{w}">'
        f'<w:footnote w:id="1"><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:footnote>'
        "</w:footnotes>"
    )
    rel = (
        '<Relationship Id="rIdFootnotes" Target="footnotes.xml" Type="http://schemas.'
        'openxmlformats.org/officeDocument/2006/relationships/footnotes"/></Relationships>'
    )
    kind = (
        '<Override PartName="/word/footnotes.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.footnotes+xml"/></Types>'
    )
    source, target = zipfile.ZipFile(io.BytesIO(out.getvalue())), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/_rels/document.xml.rels":
                data = data.replace(b"</Relationships>", rel.encode())
            elif item.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", kind.encode())
            z.writestr(item, data)
        z.writestr("word/footnotes.xml", footnotes)
    return target.getvalue()


def test_footnotes_are_rendered_once_so_data_is_never_template_text():
    # docxtpl renders footnotes once per section: the second pass ran the filled-in data
    from workbench.reports.context import ReportContext

    typed = "{{ title }}"  # a finding, a unit name … as someone typed it
    context = ReportContext(values={"title": "报告", "summary": typed, "en": {}, "surveys": []})
    data = render_bytes(context, _two_sections_with_a_footnote("注：{{ summary }}"))
    footnotes = zipfile.ZipFile(io.BytesIO(data)).read("word/footnotes.xml").decode()
    assert "注：{{ title }}" in footnotes and "注：报告" not in footnotes


def test_fields_of_loop_variables_are_checked_against_the_items():
    known = {"problems", "dimensions", "title"}
    ok = vet_template(
        docx_with(
            "{% for d in dimensions %}{% for i in d.indicators %}{{ i }}{% endfor %}"
            "{{ d.name }} {{ loop.index }}{% endfor %}{% for x in problems %}{{ x.cause }}"
            "{% endfor %}",
            "body",
        ),
        known,
    )
    assert ok.ok, ok.errors
    report = vet_template(
        docx_with("{% for x in problems %}{{ x.caus }} {{ x['titel'] }}{% endfor %}", "body"),
        known,
    )
    found = [(code, p["field"], p["list"]) for code, p in report.errors]
    assert found == [("unknown_field", "caus", "problems"), ("unknown_field", "titel", "problems")]
    assert report.errors[0][1]["tag"] == "{{ x.caus }}"
