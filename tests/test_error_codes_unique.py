"""The message registry's sections add their codes with ``CODES.update``, which would silently
let a later section overwrite an earlier one's code: a code written twice in the file has the
same message both times (as :func:`register` demands)."""

import ast
from pathlib import Path

import workbench.error_messages as registry


def _literal_keys(tree: ast.AST) -> list[tuple[str, str]]:
    """(code, message source) of every dict literal with string keys."""
    keys = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys += [
                (k.value, ast.unparse(v))
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant)
            ]
    return keys


def _clashes(source: str) -> list[str]:
    messages: dict[str, set[str]] = {}
    for code, message in _literal_keys(ast.parse(source)):
        messages.setdefault(code, set()).add(message)
    return [code for code, seen in messages.items() if len(seen) > 1]


def test_no_error_code_is_written_twice_with_different_messages():
    source = Path(registry.__file__).read_text(encoding="utf-8")
    assert _clashes(source) == []
    assert _clashes(source + '\nCODES.update({"bad_level": _l("Another text.")})\n') == [
        "bad_level"
    ]


def test_a_code_registered_twice_with_another_message_is_refused():
    code = next(iter(registry.CODES))
    try:
        registry.register({code: "something else"})
    except ValueError:
        pass
    else:  # pragma: no cover - the assertion below says what went wrong
        raise AssertionError("register() accepted a second message for a code")
    assert str(registry.CODES[code]) != "something else"
