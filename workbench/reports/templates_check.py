"""Checking an uploaded Word template before it is used, and storing it."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, UndefinedError, meta
from sqlalchemy.orm import Session

from workbench.accounts.models import Role, User
from workbench.audit.services import record
from workbench.core.safefiles import UnsafeFile, check_docx, clean_filename, clean_name
from workbench.engagements.models import Engagement
from workbench.reports.context import ReportContext
from workbench.reports.models import ReportTemplateFile
from workbench.reports.render import RENDER_DEFAULTS, render_bytes
from workbench.reports.sandbox import (
    ALLOWED_FILTERS,
    CHECK_SECONDS,
    ENV,
    MAX_TAGS,
    TemplateRefused,
    count_tags,
)
from workbench.storage import store_bytes

MAX_TEMPLATE = 20 * 1024 * 1024
#: a tag whose braces Word split into separate runs (formatting changed inside the tag)
_SPLIT_BRACES = re.compile(
    r"\{(?:</w:t>|<[^>]+>)+\{|%(?:</w:t>|<[^>]+>)+\}|\}(?:</w:t>|<[^>]+>)+\}"
)


@dataclass
class CheckReport:
    #: (code, params) — translated by the web layer
    errors: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    variables: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


#: every core property of the document: docxtpl renders author, comments, identifier,
#: language, subject and title; the others are checked too, so no tag hides anywhere
CORE_PROPERTIES = (
    "author",
    "category",
    "comments",
    "content_status",
    "identifier",
    "keywords",
    "language",
    "last_modified_by",
    "subject",
    "title",
    "version",
)
#: the core properties docxtpl fills in; a tag in any other one is refused outright
RENDERED_PROPERTIES = frozenset(
    {"author", "comments", "identifier", "language", "subject", "title"}
)
_TAG = re.compile(r"\{[{%#]")
_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"
#: the variables of docs/report-templates.md (for re-checking stored templates without an
#: engagement); an upload is checked against its engagement's report context instead
DOCUMENTED_VARIABLES = frozenset(
    {
        "title",
        "project_name",
        "client",
        "firm",
        "evaluated_units",
        "fiscal_year",
        "report_no",
        "report_date",
        "report_date_en",
        "draft_mark",
        "summary",
        "key_findings",
        "overview",
        "funds_text",
        "overall_goal",
        "annual_goal",
        "purpose",
        "scope",
        "principles",
        "indicator_summary",
        "methods",
        "standards",
        "timeline",
        "total",
        "grade",
        "conclusion",
        "dimensions",
        "experiences",
        "experiences_none",
        "problems",
        "problems_none",
        "recommendations",
        "recommendations_none",
        "others",
        "others_none",
        "surveys",
        "survey_none",
        "expert_text",
        "score_note",
        "en",
        # the framing of the bundled project report
        "evaluation_period",
        "basis",
        "basis_none",
        "responsibility",
        "team_lead",
        "team_members",
        "team_reviewers",
        "experts",
        "experts_none",
        "result_application",
        "dimension_chart_caption",
        *RENDER_DEFAULTS,
    }
)


@dataclass(frozen=True)
class Source:
    """One text of the document Jinja sees: ``part`` is body, header, footer, footnotes or
    property (``name`` says which)."""

    part: str
    name: str
    text: str


def template_sources(template: DocxTemplate) -> list[Source]:
    """Every text of the document docxtpl renders, as docxtpl prepares it, and every core
    property (rendered or not)."""
    template.init_docx()
    out = [Source("body", "", template.patch_xml(template.get_xml()))]
    for kind, uri in (("header", template.HEADER_URI), ("footer", template.FOOTER_URI)):
        for _key, part in template.get_headers_footers(uri):
            out.append(Source(kind, "", template.patch_xml(template.get_part_xml(part))))
    for part in template.docx.part.package.parts:
        if part.content_type == _FOOTNOTES:
            blob = part.blob.decode("utf-8") if isinstance(part.blob, bytes) else part.blob
            out.append(Source("footnotes", "", template.patch_xml(blob)))
    properties = template.docx.core_properties
    for name in CORE_PROPERTIES:
        value = getattr(properties, name, None)
        if isinstance(value, str) and value:
            out.append(Source("property", name, value))
    return out


def _refusal(exc: TemplateRefused, source: Source | None = None) -> tuple[str, dict[str, str]]:
    params = {
        "part": source.part if source else "template",
        "property": source.name if source else "",
        "detail": exc.detail,
    }
    if exc.code == "filter":
        params["allowed"] = ", ".join(sorted(ALLOWED_FILTERS))
    return f"refused_{exc.code}", params


def vet_template(data: bytes, known: set[str] | frozenset[str]) -> CheckReport:
    """The checks that run nothing: the file is a .docx, no tag is split or broken, every
    text obeys the sandbox's syntax (:func:`workbench.reports.sandbox.vet`) and uses only
    ``known`` variables — in the body, the headers, the footers, the footnotes and the core
    properties."""
    report = CheckReport()
    if not data:
        report.errors.append(("empty", {}))
        return report
    if len(data) > MAX_TEMPLATE:
        report.errors.append(("too_large", {}))
        return report
    try:  # before any zipfile/docxtpl read: sizes, entries and ratios, inflated with a cap
        check_docx(data)
    except UnsafeFile as exc:
        if "not a valid zip archive" in exc.message.template:
            report.errors.append(("not_docx", {}))
        else:
            report.errors.append(("unsafe_file", {"reason": str(exc)}))
        return report
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError):
        report.errors.append(("not_docx", {}))
        return report
    for match in list(_SPLIT_BRACES.finditer(xml))[:10]:
        text = re.sub(r"<[^>]+>", "", xml[max(0, match.start() - 200) : match.end() + 200])
        report.errors.append(("split_tag", {"near": text[-60:]}))
    if report.errors:
        return report
    try:
        sources = template_sources(DocxTemplate(io.BytesIO(data)))
    except Exception as exc:  # a damaged document
        report.errors.append(("unreadable", {"reason": str(exc)[:200]}))
        return report
    tags = sum(count_tags(source.text) for source in sources)
    if tags > MAX_TAGS:  # counted over every part before any is parsed
        report.errors.append(("refused_tags", {"part": "template", "detail": str(MAX_TAGS)}))
        return report
    undeclared: set[str] = set()
    for source in sources:
        if (
            source.part == "property"
            and source.name not in RENDERED_PROPERTIES
            and _TAG.search(source.text)
        ):
            params = {"part": source.part, "property": source.name, "detail": ""}
            report.errors.append(("refused_property", params))
            continue
        try:
            tree = ENV.parse(source.text)
            names = meta.find_undeclared_variables(tree)
        except TemplateRefused as exc:
            report.errors.append(_refusal(exc, source))
            continue
        except TemplateSyntaxError as exc:
            report.errors.append(
                ("broken_tag", {"line": str(exc.lineno), "reason": str(exc.message)[:200]})
            )
            continue
        except RecursionError:  # thousands of nested brackets or `not`s: Jinja's parser gives up
            report.errors.append(("too_deep", {"part": source.part, "property": source.name}))
            continue
        for name in sorted(names - set(known)):
            undeclared.add(name)
            params = {"name": name, "part": source.part, "property": source.name}
            report.errors.append(("unknown_variable", params))
    report.variables = sorted(undeclared)
    return report


def check_template(data: bytes, context: ReportContext) -> CheckReport:
    """Open the file as docxtpl would, refuse what the sandbox refuses, list undefined
    variables and broken tags, and try a render with the engagement's context in the sandbox
    with the upload's time budget (:data:`~workbench.reports.sandbox.CHECK_SECONDS`)."""
    known = set(context.values) | set(context.tables) | set(context.charts) | set(RENDER_DEFAULTS)
    report = vet_template(data, known)
    if report.errors:
        return report
    try:
        render_bytes(context, data, seconds=CHECK_SECONDS)
    except TemplateRefused as exc:
        report.errors.append(_refusal(exc))
    except (TemplateSyntaxError, UndefinedError) as exc:
        report.errors.append(("no_render", {"reason": str(exc)[:200]}))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {str(exc)[:200]}"
        report.errors.append(("no_render", {"reason": reason}))
    return report


def store_template(
    session: Session,
    actor: User,
    engagement: Engagement,
    data: bytes,
    *,
    filename: str,
    name: str,
    scope: str,
    folder: Path,
) -> ReportTemplateFile:
    """Keep a checked template for this engagement or for the actor's organisation.

    Only an admin stores a template for the whole organisation (the view answers 403 first;
    this guards every other caller)."""
    if scope not in ("engagement", "organisation"):
        raise ValueError(f"unknown template scope {scope!r}")
    if scope == "organisation" and actor.role is not Role.ADMIN:
        raise PermissionError("only an admin uploads templates for the whole firm")
    filename = clean_filename(filename, default="template.docx")
    name = clean_name(name)
    digest = hashlib.sha256(data).hexdigest()
    stored = f"{digest}.docx"
    store_bytes(folder / stored, data, sha256=digest)  # whole or not at all, before the row
    item = ReportTemplateFile(
        organisation_id=actor.organisation_id if scope == "organisation" else None,
        engagement_id=None if scope == "organisation" and actor.organisation_id else engagement.id,
        name=name[:100] or filename[:100],
        filename=filename[:200],
        stored_as=stored,
        uploaded_by_id=actor.id,
    )
    session.add(item)
    session.flush()
    record(
        session,
        actor,
        "report.template",
        "report_template",
        item.id,
        engagement_id=engagement.id,
        changes={
            "name": {"before": None, "after": item.name},
            "scope": {"before": None, "after": "engagement" if item.engagement_id else scope},
        },
        summary=filename[:200],
    )
    return item
