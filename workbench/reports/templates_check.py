"""Checking an uploaded Word template before it is used, and storing it."""

from __future__ import annotations

import hashlib
import html
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, UndefinedError, meta, nodes
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


#: the fields of the items of each list in the context (docs/report-templates.md); a loop
#: variable's field outside these is refused. ``a.b``: the items of field ``b`` of ``a``'s items
DOCUMENTED_FIELDS: Mapping[str, frozenset[str]] = {
    "key_findings": frozenset(),
    "methods": frozenset(),
    "timeline": frozenset({"date", "text"}),
    "dimensions": frozenset({"heading", "intro", "indicators", "name", "weight", "score"}),
    "dimensions.indicators": frozenset(),
    "experiences": frozenset({"title", "text"}),
    "problems": frozenset({"number", "title", "text", "cause"}),
    "recommendations": frozenset({"text", "problems"}),
    "others": frozenset({"title", "text"}),
    "surveys": frozenset({"title", "text", "table", "chart", "chart_caption"}),
    "en.dimensions": frozenset({"heading", "text"}),
    "en.methods": frozenset(),
    "en.problems": frozenset(),
    "en.recommendations": frozenset(),
}


def item_fields(context: ReportContext) -> dict[str, frozenset[str]]:
    """:data:`DOCUMENTED_FIELDS` and the keys the engagement's own list items carry."""
    out = dict(DOCUMENTED_FIELDS)

    def add(path: str, items: Any) -> None:
        if not isinstance(items, list) or not items:
            return
        keys = set(out.get(path, frozenset()))
        for item in items:
            if isinstance(item, Mapping):
                keys |= {str(k) for k in item}
                for key, value in item.items():
                    if isinstance(value, list):
                        add(f"{path}.{key}", value)
        out[path] = frozenset(keys)

    for name, value in context.values.items():
        if name == "en" and isinstance(value, Mapping):
            for key, sub in value.items():
                add(f"en.{key}", sub)
        else:
            add(name, value)
    return out


def _path_of(node: nodes.Node, loops: Mapping[str, str]) -> str | None:
    """``problems`` for ``problems``, ``en.dimensions`` for ``en.dimensions``, ``dimensions.
    indicators`` for ``d.indicators`` in a loop over ``dimensions``; None for anything else."""
    if isinstance(node, nodes.Filter) and node.node is not None:
        return _path_of(node.node, loops)  # the sandbox's own loop guard, |sort …
    if isinstance(node, nodes.Name):
        return loops.get(node.name, node.name)
    if isinstance(node, nodes.Getattr):
        base = _path_of(node.node, loops)
        return f"{base}.{node.attr}" if base else None
    return None


def _unknown_fields(
    tree: nodes.Node, fields: Mapping[str, frozenset[str]]
) -> list[tuple[str, str, str, frozenset[str]]]:
    """(variable, field, list, allowed fields) for every field of a loop variable its list's
    items do not have, in the order they appear."""
    found: list[tuple[str, str, str, frozenset[str]]] = []

    def visit(node: nodes.Node, loops: dict[str, str]) -> None:
        if isinstance(node, nodes.For):
            visit(node.iter, loops)
            inner = dict(loops)
            path = _path_of(node.iter, loops)
            if isinstance(node.target, nodes.Name):
                if path in fields:
                    inner[node.target.name] = path
                else:
                    inner.pop(node.target.name, None)  # a loop over something else
            for child in (*node.body, *node.else_):
                visit(child, inner)
            if node.test is not None:
                visit(node.test, inner)
            return
        name, attr = None, None
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            name, attr = node.node.name, node.attr
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.node, nodes.Name)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
        ):
            name, attr = node.node.name, node.arg.value
        if name in loops and attr is not None:
            listed = loops[name]
            allowed = fields.get(listed, frozenset())
            if attr not in allowed and (name, attr, listed, allowed) not in found:
                found.append((name, attr, listed, allowed))
        for child in node.iter_child_nodes():
            visit(child, loops)

    visit(tree, {})
    return found


_TAG_TEXT = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}")


def _plain(xml: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", xml))


def _paragraphs(source: Source) -> list[str]:
    """The texts of the source's paragraphs, as a reader sees them (no XML)."""
    if source.part == "property":
        return [source.text]
    texts = [_plain(chunk) for chunk in re.split(r"</w:p>", source.raw or source.text)]
    return [t for t in texts if t.strip()]


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(paragraphs: Sequence[str], pattern: re.Pattern[str]) -> tuple[str, str]:
    """The first tag matching ``pattern`` and its paragraph ("" when none is found)."""
    for paragraph in paragraphs:
        for tag in _TAG_TEXT.findall(paragraph):
            if pattern.search(tag):
                return _short(tag), _short(paragraph)
    return "", ""


def _split_tag_at(xml: str, start: int) -> dict[str, str]:
    """The tag a split starts in, as the reader sees it, and its paragraph."""
    begin = xml.rfind("<w:p>", 0, start)
    begin = max(begin, xml.rfind("<w:p ", 0, start))
    end = xml.find("</w:p>", start)
    paragraph = _plain(xml[max(begin, 0) : end if end != -1 else start + 400])
    before = _plain(xml[max(begin, 0) : start])
    at = len(before)
    opening = paragraph.rfind("{", 0, at + 1)
    opening = opening - 1 if opening > 0 and paragraph[opening - 1] == "{" else opening
    match = _TAG_TEXT.match(paragraph, max(opening, 0))
    tag = match.group(0) if match else paragraph[max(opening, 0) : max(opening, 0) + 40]
    return {"tag": _short(tag), "paragraph": _short(paragraph), "near": _short(paragraph, 60)}


_OPENERS = {"for": "endfor", "if": "endif", "macro": "endmacro", "with": "endwith"}
_MIDDLES = {"else", "elif"}
_BLOCK = re.compile(r"\{%-?\s*(?:(?:tr|tc|p|r)\s+)?(\w+)")


def _broken_tags(
    paragraphs: Sequence[str], exc: TemplateSyntaxError, source: Source
) -> list[tuple[str, dict[str, str]]]:
    """Name each broken tag and its paragraph, with the reason in the user's words (codes;
    never Jinja's English text nor the document's XML)."""
    out: list[tuple[str, dict[str, str]]] = []
    where = {"part": source.part, "property": source.name}
    stack: list[tuple[str, str, str]] = []
    for paragraph in paragraphs:
        shown = _short(paragraph)
        # an opening without its closing in the same paragraph
        rest = _TAG_TEXT.sub("", paragraph)
        for opening, closing in (("{{", "}}"), ("{%", "%}")):
            index = rest.find(opening)
            if index != -1 and closing not in rest[index:]:
                tag = _short(rest[index : index + 40])
                out.append(
                    ("broken_tag", {**where, "tag": tag, "paragraph": shown, "problem": "unclosed"})
                )
        for tag in _TAG_TEXT.findall(paragraph):
            if tag.startswith("{{"):
                inner = re.sub(r"^\{\{-?\s*[prc]?\s", "{{ ", tag)
                try:
                    ENV.parse(inner)
                except TemplateSyntaxError:
                    out.append(
                        (
                            "broken_tag",
                            {
                                **where,
                                "tag": _short(tag),
                                "paragraph": shown,
                                "problem": "expression",
                            },
                        )
                    )
                except (TemplateRefused, RecursionError):
                    pass
                continue
            block = _BLOCK.match(tag)
            word = block.group(1) if block else ""
            if word in _OPENERS:
                stack.append((word, _short(tag), shown))
            elif word in _MIDDLES:
                if not stack or (
                    stack[-1][0] != "if" and not (word == "else" and stack[-1][0] == "for")
                ):
                    out.append(
                        (
                            "broken_tag",
                            {
                                **where,
                                "tag": _short(tag),
                                "paragraph": shown,
                                "problem": "stray_end",
                            },
                        )
                    )
            elif word.startswith("end"):
                if stack and _OPENERS[stack[-1][0]] == word:
                    stack.pop()
                else:
                    out.append(
                        (
                            "broken_tag",
                            {
                                **where,
                                "tag": _short(tag),
                                "paragraph": shown,
                                "problem": "stray_end",
                            },
                        )
                    )
            elif tag.startswith("{%") and word not in ("set", "raw", "endraw", "filter", "call"):
                out.append(
                    (
                        "broken_tag",
                        {**where, "tag": _short(tag), "paragraph": shown, "problem": "unknown_tag"},
                    )
                )
    for _word, tag, shown in stack:
        out.append(("broken_tag", {**where, "tag": tag, "paragraph": shown, "problem": "unended"}))
    if not out:  # Jinja saw what the paragraph check did not: say where, not what it said
        out.append(("broken_structure", dict(where)))
    return out[:10]


@dataclass(frozen=True)
class Source:
    """One text of the document Jinja sees: ``part`` is body, header, footer, footnotes or
    property (``name`` says which)."""

    part: str
    name: str
    text: str
    #: the part's XML as stored (docxtpl's patch joins a broken tag's paragraphs)
    raw: str = ""


def template_sources(template: DocxTemplate) -> list[Source]:
    """Every text of the document docxtpl renders, as docxtpl prepares it, and every core
    property (rendered or not)."""
    template.init_docx()
    body = template.get_xml()
    out = [Source("body", "", template.patch_xml(body), body)]
    for kind, uri in (("header", template.HEADER_URI), ("footer", template.FOOTER_URI)):
        for _key, part in template.get_headers_footers(uri):
            xml = template.get_part_xml(part)
            out.append(Source(kind, "", template.patch_xml(xml), xml))
    for part in template.docx.part.package.parts:
        if part.content_type == _FOOTNOTES:
            blob = part.blob.decode("utf-8") if isinstance(part.blob, bytes) else part.blob
            out.append(Source("footnotes", "", template.patch_xml(blob), blob))
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


def vet_template(
    data: bytes,
    known: set[str] | frozenset[str],
    fields: Mapping[str, frozenset[str]] | None = None,
) -> CheckReport:
    """The checks that run nothing: the file is a .docx, no tag is split or broken, every
    text obeys the sandbox's syntax (:func:`workbench.reports.sandbox.vet`) and uses only
    ``known`` variables — in the body, the headers, the footers, the footnotes and the core
    properties. ``fields``: the fields of each list's items (:func:`item_fields`), so that a
    misspelt field of a loop variable (``{{ x.caus }}`` in a loop over ``problems``) is
    refused too; default :data:`DOCUMENTED_FIELDS`."""
    fields = DOCUMENTED_FIELDS if fields is None else fields
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
        report.errors.append(("split_tag", _split_tag_at(xml, match.start())))
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
        paragraphs = _paragraphs(source)
        try:
            tree = ENV.parse(source.text)
            names = meta.find_undeclared_variables(tree)
        except TemplateRefused as exc:
            report.errors.append(_refusal(exc, source))
            continue
        except TemplateSyntaxError as exc:
            report.errors.extend(_broken_tags(paragraphs, exc, source))
            continue
        except RecursionError:  # thousands of nested brackets or `not`s: Jinja's parser gives up
            report.errors.append(("too_deep", {"part": source.part, "property": source.name}))
            continue
        for name in sorted(names - set(known)):
            undeclared.add(name)
            tag, paragraph = _where(paragraphs, re.compile(rf"\b{re.escape(name)}\b"))
            params = {"name": name, "part": source.part, "property": source.name}
            if tag:
                params |= {"tag": tag, "paragraph": paragraph}
            report.errors.append(("unknown_variable", params))
        try:
            misspelt = _unknown_fields(tree, fields or {})
        except RecursionError:
            misspelt = []
        for variable, field_name, listed, allowed in misspelt:
            pattern = re.compile(
                rf"\b{re.escape(variable)}\s*(?:\.\s*{re.escape(field_name)}\b"
                rf"|\[\s*['\"]{re.escape(field_name)}['\"]\s*\])"
            )
            tag, paragraph = _where(paragraphs, pattern)
            params = {
                "field": field_name,
                "list": listed,
                "fields": "、".join(sorted(allowed)) or "—",
                "tag": tag or f"{{{{ {variable}.{field_name} }}}}",
                "paragraph": paragraph,
                "part": source.part,
                "property": source.name,
            }
            report.errors.append(("unknown_field", params))
    report.variables = sorted(undeclared)
    return report


def check_template(data: bytes, context: ReportContext) -> CheckReport:
    """Open the file as docxtpl would, refuse what the sandbox refuses, list undefined
    variables and broken tags, and try a render with the engagement's context in the sandbox
    with the upload's time budget (:data:`~workbench.reports.sandbox.CHECK_SECONDS`)."""
    known = set(context.values) | set(context.tables) | set(context.charts) | set(RENDER_DEFAULTS)
    report = vet_template(data, known, item_fields(context))
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
