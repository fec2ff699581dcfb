"""Checking an uploaded Word template before it is used, and storing it."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from workbench.accounts.models import User
from workbench.audit.services import record
from workbench.core.safefiles import UnsafeFile, check_docx, clean_filename, clean_name
from workbench.engagements.models import Engagement
from workbench.reports.context import ReportContext
from workbench.reports.models import ReportTemplateFile

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


def check_template(data: bytes, context: ReportContext) -> CheckReport:
    """Open the file as docxtpl would, list undefined variables and broken tags, and try a
    render with the engagement's context."""
    from docxtpl import DocxTemplate
    from jinja2 import TemplateSyntaxError, UndefinedError

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
        template = DocxTemplate(io.BytesIO(data))
        known = set(context.values) | set(context.tables) | set(context.charts)
        undeclared = template.get_undeclared_template_variables(context=dict.fromkeys(known, ""))
    except TemplateSyntaxError as exc:
        report.errors.append(("broken_tag", {"line": str(exc.lineno), "reason": str(exc.message)}))
        return report
    except Exception as exc:  # a damaged document
        report.errors.append(("unreadable", {"reason": str(exc)[:200]}))
        return report
    report.variables = sorted(undeclared)
    for name in sorted(undeclared):
        report.errors.append(("unknown_variable", {"name": name}))
    if report.errors:
        return report
    try:
        from workbench.reports.render import render_bytes

        render_bytes(context, data)
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
    """Keep a checked template for this engagement or for the actor's organisation."""
    filename = clean_filename(filename, default="template.docx")
    name = clean_name(name)
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{hashlib.sha256(data).hexdigest()}.docx"
    (folder / stored).write_bytes(data)
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
        changes={"name": {"before": None, "after": item.name}},
        summary=filename[:200],
    )
    return item
