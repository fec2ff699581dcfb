"""Report-template payloads of issue #13 (server-side template injection through docxtpl).

``payloads(marker)`` gives Jinja sources that, run by a plain Jinja environment, would create
the file ``marker`` (through ``os.popen`` or ``open``), read the app's config, or hold a worker;
:func:`docx_with` builds a Word file carrying one of them in the body, a header, a footer or a
core property (python-docx, as a user's Word would).
"""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document

#: where a payload can hide in a .docx: every text docxtpl renders, and the core properties
PLACES = ("body", "header", "footer", "title", "subject", "comments", "keywords")


def payloads(marker: Path) -> dict[str, str]:
    touch = f"popen('touch {marker}').read()"
    write = f"open('{marker}', 'w').write('x')"
    walk = (
        "{% for c in title.__class__.__mro__[1].__subclasses__() %}"
        "{% if c.__name__ == '_wrap_close' %}{{ c.__init__.__globals__['"
        + touch[:5]
        + "']"
        + touch[5:]
        + " }}{% endif %}{% endfor %}"
    )
    return {
        "__class__": "{{ title.__class__ }}",
        "__mro__": "{{ title.__class__.__mro__ }}",
        "__subclasses__": walk,
        "__globals__": "{{ title.__init__.__globals__ }}",
        "__builtins__": "{{ title.__init__.__builtins__['" + write[:4] + "']" + write[4:] + " }}",
        "getitem dunder": "{{ title['__class__']['__mro__'] }}",
        "cycler": "{{ cycler.__init__.__globals__.os." + touch + " }}",
        "joiner": "{{ joiner.__init__.__globals__.os." + touch + " }}",
        "lipsum": "{{ lipsum.__globals__['os']." + touch + " }}",
        "namespace": "{{ namespace.__init__.__globals__.os." + touch + " }}",
        "range": "{% for i in range(10) %}{{ i }}{% endfor %}",
        "self": "{{ self._TemplateReference__context.cycler.__init__.__globals__.os."
        + touch
        + " }}",
        "self alone": "{{ self }}",
        "config": "{{ config.SECRET_KEY }} {{ config['SQLALCHEMY_DATABASE_URI'] }}",
        "config items": "{{ config.items() }}",
        "request": "{{ request.application.__globals__.__builtins__." + write + " }}",
        "attr chain": "{{ title|attr('__class__')|attr('__mro__') }}",
        "attr escaped": "{{ title|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "attr call": "{{ (title|attr('upper'))() }}",
        "percent format": "{{ '%s %s' % (title, title) }}",
        "percent mapping": "{{ '%(a)s' % {'a': title} }}",
        "str.format": "{{ '{0.__class__.__mro__}'.format(title) }}",
        "format_map": "{{ '{0.__class__}'.format_map({'0': title}) }}",
        "format filter": "{{ '%s'|format(title) }}",
        "method": "{{ title.upper() }}",
        "method object": "{{ title.upper }}",
        "loop.cycle": "{% for x in key_findings %}{{ loop.cycle('a', 'b') }}{% endfor %}",
        "set": "{% set x = title %}{{ x }}",
        "macro": "{% macro m() %}{{ title }}{% endmacro %}{{ m() }}",
        "include": "{% include 'x.html' %}",
        "import": "{% import 'x.html' as x %}",
        "with": "{% with x = title %}{{ x }}{% endwith %}",
        "filter block": "{% filter upper %}{{ title }}{% endfilter %}",
        "autoescape off": "{% autoescape false %}{{ title }}{% endautoescape %}",
        "safe": "{{ title|safe }}",
        "map filter": "{{ key_findings|map('upper')|list }}",
        "multiply": "{{ title * 100000000 }}",
        "power": "{{ 9 ** 9 ** 9 }}",
        "concat": "{{ title ~ title }}",
        "slice": "{{ title[::-1] }}",
        "recursive": "{% for x in key_findings recursive %}{{ loop(x) }}{% endfor %}",
        "deep loops": "{% for a in summary %}{% for b in summary %}{% for c in summary %}"
        "{% for d in summary %}{% for e in summary %}x{% endfor %}{% endfor %}{% endfor %}"
        "{% endfor %}{% endfor %}",
        "wide loop": "{% for a in summary %}{{ a }}{% endfor %}",
        "huge output": "{% for a in key_findings %}{{ summary }}{% endfor %}",
        "tuple": "{{ (summary, summary, summary) }}",
        "quadratic join": "{{ key_findings|join(summary) }}{{ summary|join(summary) }}",
        "unknown variable": "{{ secret_key }}",
    }


#: payloads refused only when rendered (they use documented variables and allowed syntax):
#: the budget stops them
BUDGET_PAYLOADS = ("deep loops", "wide loop", "huge output", "quadratic join")
#: payloads whose syntax is allowed: the sandbox refuses them when they reach for something
#: (a method) during the trial render
RUNTIME_PAYLOADS = ("method object",)


def docx_with(source: str, place: str = "body") -> bytes:
    """A Word file with ``source`` in ``place`` (see :data:`PLACES`), plus a harmless tag."""
    document = Document()
    document.add_paragraph("{{ title }}")
    if place == "body":
        document.add_paragraph(source)
    elif place == "header":
        document.sections[0].header.paragraphs[0].text = source
    elif place == "footer":
        document.sections[0].footer.paragraphs[0].text = source
    else:  # as Word writes it: python-docx's setters refuse more than 255 characters, Word not
        element = {"comments": "description"}.get(place, place)
        document.core_properties._element._get_or_add(element).text = source
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def budget_context():  # type: ignore[no-untyped-def]
    """A small report context whose values make the budget payloads expensive."""
    from workbench.reports.context import ReportContext

    return ReportContext(
        values={
            "title": "绩效评价报告",
            "summary": "评" * 1_000_000,  # 1 million characters: 5 nested loops = 10^30 steps
            "key_findings": ["发现"] * 40,  # 40 × the summary = 40 million characters
            "en": {},
            "surveys": [],
        }
    )
