"""The message registry's sections add their codes with ``CODES.update``, which would silently
let a later section overwrite an earlier one's code: each code is written once in the file."""

import ast
from collections import Counter
from pathlib import Path

import workbench.error_messages as registry


def _literal_keys(tree: ast.AST) -> list[str]:
    keys = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys += [k.value for k in node.keys if isinstance(k, ast.Constant)]
        if isinstance(node, ast.DictComp):  # "prefix:{text}" over a literal: its keys count
            keys += [f"<comprehension>{ast.unparse(node.key)}"]
    return keys


def test_every_error_code_is_written_once_in_the_registry():
    tree = ast.parse(Path(registry.__file__).read_text(encoding="utf-8"))
    twice = [code for code, n in Counter(_literal_keys(tree)).items() if n > 1]
    assert twice == []


def test_a_code_registered_twice_with_another_message_is_refused():
    code = next(iter(registry.CODES))
    try:
        registry.register({code: "something else"})
    except ValueError:
        pass
    else:  # pragma: no cover - the assertion below says what went wrong
        raise AssertionError("register() accepted a second message for a code")
    assert str(registry.CODES[code]) != "something else"
