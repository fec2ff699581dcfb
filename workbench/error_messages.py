"""The one registry of messages for domain errors (what a user is told when a service refuses).

Services raise their area's error with a code (``EngagementError("end_before_start")``) or a core
:class:`~workbench.core.scoring.InvalidInput` that renders itself; views never hold their own
dictionaries. Codes are unique across the application: an area prefixes a code when it could be
read two ways.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.exc import StaleDataError

from workbench.core.errors import InvalidTransition

#: by exception type: errors that mean the same whatever the area
BY_TYPE: dict[type[BaseException], object] = {
    StaleDataError: _l(
        "Someone else changed this after you opened the form. Your changes were not saved; "
        "the current values are shown."
    ),
    InvalidTransition: _l("This status change is not allowed from the current status."),
}

#: by code (``str(exc)``), one section per area; keep each section in its area's order
CODES: dict[str, object] = {}

#: by exception class name, for an area's error that shares its code with others (the shared
#: helpers may not import the areas: docs/architecture.md, "The layers")
BY_NAME: dict[str, object] = {}


def register(codes: Mapping[str, object]) -> None:
    """Add an area's codes; a code registered twice with another message is a bug."""
    for code, message in codes.items():
        if code in CODES and str(CODES[code]) != str(message):
            raise ValueError(f"error code {code!r} registered twice")
        CODES[code] = message


# --- accounts ---------------------------------------------------------------------------------

register(
    {
        "username_required": _l("A user name is required."),
        "username_taken": _l("This user name is already taken."),
        "password_too_short": _l("The password must have at least 10 characters."),
        "password_one_kind": _l("The password must not be only digits or only letters."),
        "client_needs_client_org": _l("A client user must belong to a client organisation."),
        "cannot_demote_self": _l("You cannot disable yourself or remove your own admin role."),
        "organisation_taken": _l("An organisation with this name already exists."),
    }
)

# --- engagements ------------------------------------------------------------------------------

register(
    {
        "engagement_stale": _l(
            "Someone else changed this engagement after you opened the form. "
            "Your changes were not saved; the current values are shown below."
        ),
        "end_before_start": _l("The end date is before the start date."),
        "parties_lead_only": _l(
            "Only the engagement lead or an administrator can change the client or the "
            "evaluated units."
        ),
        "parties_after_issue": _l(
            "The client and the evaluated units can no longer be changed: a report has been "
            "sent to the client (draft for comments or issued report)."
        ),
        "reviewer_only": _l(
            "Only the engagement's reviewer or an administrator can decide on a draft under review."
        ),
        "issued_needs_report": _l(
            "The engagement can only be marked as issued by issuing its report (正式稿): it "
            "has no issued report yet. Nothing was changed."
        ),
        "member_not_staff": _l("Only staff of the evaluation firm can join the team."),
        "reviewer_role_needed": _l(
            "Only users with the reviewer role can be the engagement's reviewer."
        ),
        "last_lead": _l("An engagement needs at least one engagement lead."),
        "negative_amount": _l("Amounts must not be negative."),
        "fund_source_name_missing": _l("Every fund source row with figures needs a name."),
        "fund_source_name_too_long": _l("A fund source name is at most 60 characters."),
        "fund_source_repeated": _l("Each fund source may appear only once."),
        # the archive package build (engagements/archiving.py), shown on the overview
        "archive_stale": _l(
            "The engagement changed while its package was built; archive it again."
        ),
    }
)

# --- scoring ----------------------------------------------------------------------------------

# --- experts ----------------------------------------------------------------------------------

CODES.update(
    {
        "name_required": _l("A name is required."),
        "no_indicators": _l("Choose at least one indicator for the expert to score."),
        "already_declared": _l("The declaration has already been made."),
        "confidentiality_required": _l("Please accept the confidentiality undertaking."),
        "conflict_text_required": _l("Please describe the relationship."),
        "recused": _l(
            "You have declared a conflict of interest and are recused from this engagement."
        ),
        "not_declared": _l(
            "The expert has not made the declaration yet: tick the signed paper "
            "declaration, or ask the expert to open the link."
        ),
        "already_submitted": _l(
            "This sheet has already been submitted and is locked. Ask the "
            "engagement lead to reopen it if something must change."
        ),
        "reason_required": _l("A reason is required."),
        "not_submitted": _l("This sheet has not been submitted."),
        "round2_open": _l("The revision round is already open."),
        "round1_closed": _l(
            "The revision round is open: only a submitted revision can be reopened now."
        ),
        "conflict_text_too_long": _l(
            "Please describe the relationship in at most 2,000 characters."
        ),
        "weight_positive": _l("An expert's weight must be more than 0."),
        "nothing_submitted": _l("No sheet has been submitted yet."),
        "not_recused": _l("This expert is not recused."),
        "contact_too_long": _l("Please give the contact in at most 200 characters."),
    }
)
#: a scoring sheet saved in another tab ("stale" alone is ambiguous: found by type)
BY_NAME["SheetStale"] = _l(
    "This sheet was changed in another window or tab after you opened it. Nothing was "
    "saved: the stored values are shown; check them and save again."
)


# --- surveys ----------------------------------------------------------------------------------

CODES.update(
    {
        "choose_columns": _l("Choose at least one satisfaction question."),
        "bad_level": _l("Map every answer to one of the levels."),
        "not_a_form": _l("Only questionnaires built here can be edited or published."),
        "has_responses": _l(
            "The questionnaire already has responses: its questions can no longer change."
        ),
        "no_questions": _l("A questionnaire needs at least one question."),
        "bad_status": _l("Unknown status."),
        "bad_dates": _l("The closing time must come after the opening time."),
        "bad_group": _l("Choose a question of this survey for the groups."),
        "token_count": _l("Between 1 and 5,000 codes per survey."),
        "bad_override": _l("Unknown decision."),
        "override_note": _l("Give a reason for the decision."),
        "bad_measure": _l("Unknown measure."),
    }
)
#: codes with a detail: ``SurveyError.render`` finds them as ``survey_<code>`` and fills it in
CODES.update(
    {
        "survey_bad_questionnaire": _l("The questionnaire file is not valid: %(detail)s"),
        "survey_bad_question": _l("The question was not saved: %(detail)s"),
        "survey_bad_column": _l("Unknown question: %(detail)s"),
        "survey_bad_number": _l("Populations and quotas are whole numbers above zero: %(detail)s"),
    }
)
#: the questionnaire model's validation messages (the detail of ``bad_question``) as people
#: read them
CODES.update(
    {
        f"survey_question:{text}": message
        for text, message in {
            "a choice question needs at least 2 options": _l(
                "a choice question needs at least 2 options"
            ),
            "options must be different": _l("the options must be different"),
            "a Likert scale needs 5 different labels": _l(
                "a satisfaction scale needs 5 different levels"
            ),
            "a matrix question needs at least 2 items": _l(
                "a matrix question needs at least 2 items"
            ),
            "matrix items must be different": _l("the items of a matrix must be different"),
            "only Likert and matrix questions count as satisfaction items": _l(
                "only scale and matrix questions count towards the satisfaction rate"
            ),
            "the expected answer must be one of the question's choices": _l(
                "the expected answer of an attention check must be one of the question's answers"
            ),
            "the minimum is above the maximum": _l("the minimum is above the maximum"),
            "String should have at least 1 character": _l("a text is empty"),
        }.items()
    }
)
#: why Cronbach's alpha is missing (``survey_alpha:`` and the core's reason)
CODES.update(
    {
        "survey_alpha:Cronbach's alpha needs at least 2 complete rows": _l(
            "at least 2 respondents must answer every item"
        ),
        "survey_alpha:every respondent gave the same total: alpha is undefined": _l(
            "every respondent gave the same total"
        ),
    }
)
#: an import's errors, stored with the job as (code, parameters): ``survey_import_<code>``
CODES.update(
    {
        "survey_import_no_columns": _l("No question column was chosen."),
        "survey_import_unknown_target": _l("Unknown question: %(column)s"),
        "survey_import_same_target": _l("Two file columns go to the same question: %(column)s"),
        "survey_import_no_target": _l("No file column is mapped to a question."),
        "survey_import_no_rows": _l("The file contains no responses."),
        "survey_import_too_many_rows": _l("The file has %(n)s rows; at most %(max)s are imported."),
        "survey_import_huge_cell": _l(
            "Row %(row)s, %(column)s: the cell has %(n)s characters (at most %(max)s)."
        ),
        "survey_import_bad_answer": _l(
            "Row %(row)s, %(column)s: “%(value)s” is not one of the question's answers "
            "(%(allowed)s)."
        ),
        "survey_import_bad_date": _l("Row %(row)s: the submission time “%(value)s” is not a date."),
        "survey_import_bad_duration": _l(
            "Row %(row)s: the duration “%(value)s” is not understood."
        ),
        "survey_import_more": _l("… more errors not listed."),
        "survey_import_unreadable": _l("The file could not be read: %(reason)s"),
        "survey_import_unexpected": _l("Unexpected error (%(reason)s); the file was not imported."),
        "survey_import_interrupted": _l(
            "The import was interrupted: the process running it stopped. Nothing was imported; "
            "discard it and import the file again."
        ),
    }
)


# the public questionnaire's gate (surveys/collect.py): why a visitor cannot answer
register(
    {
        "draft": _l("This questionnaire is not open yet."),
        "not_yet": _l("This questionnaire is not open yet."),
        "closed": _l("This questionnaire is closed. Thank you for your interest."),
        "ended": _l("This questionnaire is closed. Thank you for your interest."),
        "token_required": _l(
            "This questionnaire is answered with a personal code. Scan the QR code you were given."
        ),
        "token_unknown": _l(
            "This code is not valid. Check the link or the QR code you were given."
        ),
        "token_used": _l("This code has already been used to answer. Thank you."),
        "duplicate": _l("You have already answered this questionnaire on this device. Thank you."),
        "quota_full": _l("We have enough answers from your group. Thank you for your interest."),
        # throttled (surveys/throttle.py): the form comes back with the answers filled in
        "busy": _l(
            "Many people are submitting: your answers have not been saved yet. "
            "Please wait a moment and press Submit again."
        ),
    }
)

# --- workpapers -------------------------------------------------------------------------------

register(
    {
        "workpaper_no_list": _l("Unknown standard list."),
        "workpaper_title_required": _l("Name the document."),
        "workpaper_empty": _l("The file is empty."),
        "workpaper_too_large": _l("The file is larger than 20 MB."),
        "workpaper_bad_type": _l(
            "%(detail)s is not a PDF, Word, Excel or image file (checked by its content)."
        ),
        "workpaper_type_mismatch": _l("The name %(detail)s does not match the file's content."),
        "workpaper_storage": _l(
            "The file could not be stored (is the disk full?); nothing was saved."
        ),
    }
)

# --- reports ----------------------------------------------------------------------------------

register(
    {
        "bad_kind": _l("Unknown kind of finding."),
        "phase_kind": _l("Unknown kind of work phase."),
        "phase_start_required": _l("Give the date the phase started."),
        "phase_end_before_start": _l("The phase cannot end before it starts."),
        "title_required": _l("Give the finding a title."),
        "cause_required": _l("A problem needs its cause (原因分析)."),
        "unknown_codes": _l("These indicator codes are not in the indicator system: %(detail)s"),
        "text_required": _l("Write the recommendation."),
        "problem_required": _l("Link the recommendation to at least one problem."),
        "not_draft": _l("Only a draft can be sent for review."),
        "qa_failed": _l("The quality checks fail: fix the listed problems and build again."),
        "not_in_review": _l("This version is not under review."),
        "all_signed": _l("Every level has signed already."),
        "lead_signs": _l("The %(detail)s is signed by the engagement lead (项目负责人)."),
        "reviewer_signs": _l("The %(detail)s is signed by the engagement's reviewer (复核人)."),
        "comment_required": _l("A rejection needs a comment."),
        "comment_too_long": _l(
            "The text is longer than %(detail)s characters; shorten it. Nothing was saved."
        ),
        "not_signed": _l("Every review level must sign first."),
        "not_consultation": _l("This version is not out for comments."),
        "already_signed": _l("The %(detail)s has just been signed by someone else."),
        "already_issued": _l(
            "This report has just been issued by someone else; the issued version is listed below."
        ),
        "response_required": _l("Write the response."),
        "unanswered": _l("Respond to every comment before issuing."),
        "report_no_required": _l("Give the report number (报告编号)."),
        "not_allowed": _l("Only the lead, the reviewer or an admin issues reports."),
        "tampered": _l("The stored file does not match its checksum."),
        "report_no_used": _l("The report number %(detail)s is already used by an issued report."),
        "changed_since_review": _l(
            "The report data changed after the sign-offs (findings, scores or surveys): build a "
            "new "
            "draft and have it reviewed again."
        ),
        "comment_text_required": _l("Write the comment received."),
        "report_bad_status": _l("Unknown status."),
        "conflict": _l("Someone else changed this at the same moment; look at it again."),
        "no_soffice": _l("PDF needs LibreOffice on the server (see docs/report-templates.md)."),
        "pdf_failed": _l("LibreOffice could not convert the report."),
        "template_refused": _l(
            "The chosen Word template is refused by the report sandbox (%(detail)s): choose "
            "another "
            "template or upload a corrected one."
        ),
        "report_storage": _l(
            "The file could not be stored (is the disk full?); nothing was saved."
        ),
    }
)
#: an uploaded template's problems (``report_template_<code>``, filled in from its params)
register(
    {
        "report_template_empty": _l("The file is empty."),
        "report_template_split_tag_at": _l(
            "The tag “%(tag)s” is split across Word runs (its characters have different "
            "formatting) in the paragraph “%(paragraph)s”: select the tag and retype it in one go."
        ),
        "report_template_broken_tag_at": _l(
            "The tag “%(tag)s” in the paragraph “%(paragraph)s” (%(part)s) is broken: %(problem)s"
        ),
        "report_template_broken_structure": _l(
            "The tags {%% … %%} of the %(part)s do not form complete blocks: a for or if without "
            "its endfor or endif, or an end without its beginning."
        ),
        "report_template_unknown_variable_at": _l(
            "Unknown variable “%(name)s” in the tag “%(tag)s”, paragraph “%(paragraph)s” "
            "(%(part)s; see docs/report-templates.md)."
        ),
        "report_template_unknown_field": _l(
            "“%(field)s” is not a field of the items of “%(list)s”: tag “%(tag)s”, paragraph "
            "“%(paragraph)s” (%(part)s). Their fields are: %(fields)s."
        ),
        "report_template_too_large": _l("The file is larger than 20 MB."),
        "report_template_not_docx": _l("This is not a Word .docx file."),
        "report_template_unsafe_file": _l("The file was refused before reading it: %(reason)s"),
        "report_template_split_tag": _l(
            "A tag is split across Word runs (its braces have different formatting): select it and "
            "retype it in one go — near “%(near)s”."
        ),
        "report_template_broken_tag": _l("Broken tag on line %(line)s: %(reason)s"),
        "report_template_unreadable": _l("The template cannot be read: %(reason)s"),
        "report_template_unknown_variable": _l(
            "Unknown variable “%(name)s” in the %(part)s (see docs/report-templates.md)."
        ),
        "report_template_no_render": _l(
            "The template does not render with this engagement's data: %(reason)s"
        ),
        # refused by the report sandbox (workbench.reports.sandbox): nothing of it ran
        "report_template_refused_syntax": _l(
            "The %(part)s uses “%(detail)s”, which report templates may not use: they only print "
            "variables, repeat paragraphs with for and choose with if."
        ),
        "report_template_refused_name": _l(
            "The %(part)s uses the name “%(detail)s”, which report templates may not use."
        ),
        "report_template_refused_attribute": _l(
            "The %(part)s reaches for “%(detail)s”: report templates may not use names starting "
            "with "
            "an underscore, or methods."
        ),
        "report_template_refused_filter": _l(
            "The %(part)s uses the filter “%(detail)s”, which report templates may not use "
            "(allowed: %(allowed)s)."
        ),
        "report_template_refused_test": _l(
            "The %(part)s uses the test “%(detail)s”, which report templates may not use."
        ),
        "report_template_refused_call": _l(
            "The %(part)s calls a function or method: report templates may not call anything."
        ),
        "report_template_refused_operations": _l(
            "The template does too much work (more than %(detail)s loop steps and lookups): "
            "simplify its loops."
        ),
        "report_template_refused_output": _l(
            "The template produces too much text (more than %(detail)s characters)."
        ),
        "report_template_too_deep": _l("The %(part)s nests brackets or tags too deeply."),
        "report_template_refused_property": _l(
            "The %(part)s holds a tag, but tags are filled in only in the body, headers, footers, "
            "footnotes and the properties title, subject, author, comments, identifier and "
            "language."
        ),
        "report_template_refused_time": _l(
            "The template takes too long to render (more than %(detail)s seconds)."
        ),
        "report_template_refused_tags": _l(
            "The template holds too many tags (more than %(detail)s {{ … }} and {%% … %%} in all): "
            "use loops instead of repeating tags."
        ),
        "report_template_refused_size": _l(
            "A part of the template is too long (more than %(detail)s characters)."
        ),
    }
)


def message_for(exc: BaseException) -> str:
    """The translated message for ``exc``: by type, then by code, then the exception's own
    rendering (core errors carry translatable templates), then its text."""
    for kind in type(exc).__mro__:
        if kind in BY_TYPE:
            return str(BY_TYPE[kind])
        if kind.__name__ in BY_NAME:
            return str(BY_NAME[kind.__name__])
    code = str(exc)
    if code in CODES:
        return _interpolate(str(CODES[code]), exc)
    render = getattr(exc, "render", None)
    if callable(render):
        return str(render(_))
    return code


def _interpolate(message: str, exc: BaseException) -> str:
    """Fill a message's ``%(detail)s`` (and any other named field) from the exception: its
    ``params`` mapping, else its ``detail`` (an untranslated specific such as a file name)."""
    if "%(" not in message:
        return message
    params = getattr(exc, "params", None) or {"detail": getattr(exc, "detail", "")}
    try:
        return message % params
    except (KeyError, TypeError, ValueError):
        return message
