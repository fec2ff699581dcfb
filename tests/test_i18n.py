"""Every user-facing string is translated, and the compiled catalog is current."""

import gettext
import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "workbench" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
KEYWORDS = {
    "_": None,
    "_l": None,
    "gettext": None,
    "lazy_gettext": None,
    "N_": None,
    "ngettext": (1, 2),
}
METHODS = [("workbench/**.py", "python"), ("workbench/**/templates/**.html", "jinja2")]


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalog():
    with open(CATALOG / "messages.po", "rb") as fh:
        return read_po(fh)


def test_every_source_message_has_a_chinese_translation():
    cat = catalog()
    translated = {m.id for m in cat if m.id and m.string and not m.fuzzy}
    missing = sorted(source_messages() - translated)
    assert missing == [], f"run `make translations` and translate: {missing[:10]}"


def test_placeholders_survive_translation():
    placeholder = re.compile(r"%\(\w+\)s|\{\w+\}")
    for m in catalog():
        if m.id and m.string:
            assert sorted(placeholder.findall(m.id)) == sorted(placeholder.findall(m.string)), m.id


def test_compiled_catalog_matches_the_po_file():
    with open(CATALOG / "messages.mo", "rb") as fh:
        mo = gettext.GNUTranslations(fh)
    for m in catalog():
        if m.id and m.string and isinstance(m.id, str):
            assert mo.gettext(m.id) == m.string, f"recompile: {m.id}"
