"""The Jinja sandbox every report template is rendered in (bundled, firm and engagement ones).

A Word template is code: docxtpl hands the text of the body, the headers, the footers, the
footnotes and the document's core properties to Jinja. An uploaded template once walked
``title.__class__.__mro__[1].__subclasses__()`` to ``os.popen`` and read ``SECRET_KEY``
(issue #13). Every template is therefore compiled and run by :data:`ENV`, one
:class:`ReportSandbox` built once per process, in three layers:

1. **What the template may say** (checked when it is compiled, before anything runs): only
   printing values, ``for`` loops, ``if``/``elif``/``else``, comparisons, ``and``/``or``/
   ``not``, attribute and item lookups, constants, and the filters of :data:`ALLOWED_FILTERS`
   and tests of :data:`ALLOWED_TESTS`. No calls, no arithmetic or ``%``/``~`` operators, no
   ``set``/``macro``/``include``/``import``/``extends``/``with``/``filter``/``autoescape``
   blocks, no literal lists, dicts or tuples (a tuple only as a loop target), no slices, no
   names or attributes starting with ``_``, no ``self``, no recursive loops.
2. **What it may reach** (Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment`,
   stricter): no globals at all (``range``, ``lipsum``, ``cycler``, ``joiner``, ``namespace``,
   ``dict`` are undefined), :class:`~jinja2.StrictUndefined`; ``x.y`` and ``x['y']`` are keys
   of mappings (and positions in lists and texts), ``loop.index`` and its kin the only
   attributes of any object, nothing starting with ``_``; nothing may be called, every
   arithmetic operator is refused.
3. **How much it may do** (a :class:`Budget` per document): each part's text and the tags of
   all parts are capped before Jinja parses them (:data:`MAX_SOURCE`, :data:`MAX_TAGS`); loop
   iterations, lookups, filter calls and printed pieces count as operations
   (:data:`MAX_OPERATIONS`), the rendered XML of all parts together is capped
   (:data:`MAX_OUTPUT`; ``join`` is sized before it runs, each one and all together capped by
   :data:`MAX_JOIN` and :data:`MAX_JOINED`), and a wall-clock deadline is checked at every
   filter call and every few hundred other operations.

Every refusal is a :class:`TemplateRefused` (a :class:`jinja2.sandbox.SecurityError`) with a
``code`` and a ``detail`` the web layer translates.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Undefined, nodes, pass_eval_context
from jinja2.filters import make_attrgetter, sync_do_join
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

#: operations one document may cost: loop iterations + lookups + filter calls + printed pieces
#: (the demo report needs about 430; five nested loops over a 20-item list need 3.2 million)
MAX_OPERATIONS = 100_000
#: characters of rendered XML one document may produce, all parts together (the demo report
#: writes about 0.1 million)
MAX_OUTPUT = 32 * 1024 * 1024
#: seconds one document's render may take (checked every :data:`_CLOCK_EVERY` operations);
#: the upload check uses :data:`CHECK_SECONDS`
MAX_SECONDS = 120.0
CHECK_SECONDS = 10.0
_CLOCK_EVERY = 256
#: tags (``{{ … }}``, ``{% … %}``, ``{# … #}``) one document may hold, all parts together,
#: counted before Jinja parses anything (parsing 100,000 tags took 18 s and 1.2 GB; the
#: bundled templates hold 72)
MAX_TAGS = 2_000
#: characters of one part's XML handed to Jinja (the bundled body is 8,000)
MAX_SOURCE = 4 * 1024 * 1024
#: characters one ``join`` may build, and all of a document's joins together (a join's result
#: is not output until it is printed: ``(s|join(s))|join('')`` in a loop built gigabytes)
MAX_JOIN = 1024 * 1024
MAX_JOINED = 8 * 1024 * 1024

#: filters a template may use (the bundled templates use none); ``safe``, ``attr``, ``format``,
#: ``map``, ``center``, ``indent``, ``replace``… are not among them, nor ``round`` (its
#: ``floor``/``ceil`` build ``value * 10**precision``: a large constant precision is one step
#: of unbounded memory and time; the context's numbers come formatted)
ALLOWED_FILTERS = frozenset(
    {
        "capitalize",
        "count",
        "d",
        "default",
        "e",
        "escape",
        "first",
        "join",
        "last",
        "length",
        "lower",
        "title",
        "trim",
        "truncate",
        "upper",
    }
)
ALLOWED_TESTS = frozenset(
    {"defined", "undefined", "none", "number", "string", "sequence", "odd", "even"}
)
#: names a template may never use, whatever the context holds (``self`` is Jinja's reference
#: to the template itself; the others are Jinja's and Flask's usual globals)
FORBIDDEN_NAMES = frozenset(
    {
        "self",
        "config",
        "request",
        "session",
        "g",
        "url_for",
        "get_flashed_messages",
        "range",
        "lipsum",
        "cycler",
        "joiner",
        "namespace",
        "dict",
        "varargs",
        "kwargs",
        "caller",
    }
)
#: what ``loop.…`` may give inside a ``for`` (not ``cycle``, ``changed`` or ``loop()``)
LOOP_ATTRIBUTES = frozenset(
    {
        "index",
        "index0",
        "revindex",
        "revindex0",
        "first",
        "last",
        "length",
        "depth",
        "depth0",
        "previtem",
        "nextitem",
    }
)
#: the syntax a template may use (everything else is refused when it is compiled)
ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Const,
    nodes.Name,
    nodes.Tuple,
    nodes.Getattr,
    nodes.Getitem,
    nodes.For,
    nodes.If,
    nodes.CondExpr,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
)
#: the internal filter every ``for`` loop's sequence is wrapped in (a name no template can
#: write: the lexer's names have no colon)
_LOOP_FILTER = "wb:loop"


class TemplateRefused(SecurityError):
    """A template does something the sandbox does not allow.

    ``code`` is one of ``syntax`` (a tag kind or operator, ``detail`` names it), ``name``,
    ``attribute``, ``filter``, ``test``, ``call``, ``operations``, ``output``, ``time``.
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class Budget:
    """What one document's render may still spend."""

    operations: int = MAX_OPERATIONS
    output: int = MAX_OUTPUT
    seconds: float = MAX_SECONDS
    spent: int = 0
    written: int = 0
    joined: int = 0
    tags: int = 0
    deadline: float = 0.0


_BUDGET: ContextVar[Budget | None] = ContextVar("report_template_budget", default=None)


@contextmanager
def budget(
    operations: int = MAX_OPERATIONS, output: int = MAX_OUTPUT, seconds: float = MAX_SECONDS
) -> Iterator[Budget]:
    """Render inside this block: one budget for every part of one document."""
    current = Budget(operations=operations, output=output, seconds=seconds)
    current.deadline = time.monotonic() + seconds
    token = _BUDGET.set(current)
    try:
        yield current
    finally:
        _BUDGET.reset(token)


def _spend(n: int = 1, *, clock: bool = False) -> None:
    """Count ``n`` operations; the clock is read every :data:`_CLOCK_EVERY` of them, and at
    every filter call (``clock``: one call may cost far more than a lookup)."""
    current = _BUDGET.get()
    if current is None:  # fail closed: nothing renders outside a budget
        raise TemplateRefused("operations", "0")
    current.spent += n
    if current.spent > current.operations:
        raise TemplateRefused("operations", str(current.operations))
    if (clock or current.spent % _CLOCK_EVERY == 0) and time.monotonic() > current.deadline:
        raise TemplateRefused("time", f"{current.seconds:g}")


def count_tags(source: str) -> int:
    """The Jinja tags of a text, as the lexer will find them (an upper bound)."""
    return source.count("{{") + source.count("{%") + source.count("{#")


def check_source(source: str, tags_so_far: int = 0) -> int:
    """Refuse a text too large to hand to Jinja's parser; the document's tag count after it.

    Inside a :func:`budget` the count runs over every part of the document."""
    if len(source) > MAX_SOURCE:
        raise TemplateRefused("size", str(MAX_SOURCE))
    tags = tags_so_far + count_tags(source)
    current = _BUDGET.get()
    if current is not None:
        current.tags += tags - tags_so_far
        tags = current.tags
    if tags > MAX_TAGS:
        raise TemplateRefused("tags", str(MAX_TAGS))
    return tags


def _concat(pieces: Iterable[str]) -> str:
    """Jinja's ``"".join`` of a rendered part, counting pieces and characters."""
    current = _BUDGET.get()
    out = []
    for piece in pieces:
        _spend()
        assert current is not None  # _spend refused otherwise
        current.written += len(piece)
        if current.written > current.output:
            raise TemplateRefused("output", str(current.output))
        out.append(piece)
    return "".join(out)


def _loop(value: Any) -> Iterator[Any]:
    """Every ``for`` loop's sequence: each item costs an operation."""
    for item in value:
        _spend()
        yield item


@pass_eval_context
def _join(eval_ctx: Any, value: Iterable[Any], d: Any = "", attribute: Any = None) -> Any:
    """Jinja's ``join``, refused before it builds a text larger than the output left: the
    separator repeats between every item (``summary|join(summary)`` is quadratic)."""
    current = _BUDGET.get()
    if isinstance(value, str):  # sized before it is split into a list of characters
        size = len(value) * (1 + len(str(d)))
        if size > MAX_JOIN or (current is not None and current.written + size > current.output):
            raise TemplateRefused("output", str(MAX_JOIN))
    items = list(value)
    if attribute is not None:
        getter = make_attrgetter(ENV, attribute)
        items = [getter(item) for item in items]
    size = sum(len(str(item)) for item in items) + len(str(d)) * max(0, len(items) - 1)
    if current is not None and current.written + size > current.output:
        raise TemplateRefused("output", str(current.output))
    if size > MAX_JOIN:
        raise TemplateRefused("output", str(MAX_JOIN))
    if current is not None:
        current.joined += size
        if current.joined > MAX_JOINED:
            raise TemplateRefused("output", str(MAX_JOINED))
    return sync_do_join(eval_ctx, items, d)


def _counted(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)  # keeps Jinja's pass_context/pass_eval_context marker
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _spend(clock=True)
        return func(*args, **kwargs)

    return wrapper


def vet(tree: nodes.Template) -> None:
    """Refuse every node a report template has no business with (layer 1)."""
    for node in _walk(tree):
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateRefused("syntax", _describe(node))
        if isinstance(node, nodes.Name) and (
            node.name in FORBIDDEN_NAMES or node.name.startswith("_")
        ):
            raise TemplateRefused("name", node.name)
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            raise TemplateRefused("attribute", node.attr)
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            raise TemplateRefused("attribute", node.arg.value)
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateRefused("filter", node.name)
        if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            raise TemplateRefused("test", node.name)
        if isinstance(node, nodes.Tuple) and node.ctx != "store":  # only `for a, b in …`
            raise TemplateRefused("syntax", "(…, …)")
        if isinstance(node, nodes.For) and node.recursive:
            raise TemplateRefused("syntax", "recursive")
        if isinstance(node, nodes.Filter | nodes.Test) and (node.dyn_args or node.dyn_kwargs):
            raise TemplateRefused("syntax", "*args")


def _walk(node: nodes.Node) -> Iterator[nodes.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.iter_child_nodes())


def _describe(node: nodes.Node) -> str:
    """A tag kind or an operator as the template author wrote it."""
    words = {
        nodes.Call: "()",
        nodes.Concat: "~",
        nodes.Add: "+",
        nodes.Sub: "-",
        nodes.Mul: "*",
        nodes.Div: "/",
        nodes.FloorDiv: "//",
        nodes.Mod: "%",
        nodes.Pow: "**",
        nodes.Neg: "-",
        nodes.Pos: "+",
        nodes.Slice: "[:]",
        nodes.List: "[…]",
        nodes.Dict: "{…}",
        nodes.Assign: "set",
        nodes.AssignBlock: "set",
        nodes.Macro: "macro",
        nodes.CallBlock: "call",
        nodes.Include: "include",
        nodes.Import: "import",
        nodes.FromImport: "import",
        nodes.Extends: "extends",
        nodes.Block: "block",
        nodes.With: "with",
        nodes.FilterBlock: "filter",
        nodes.ScopedEvalContextModifier: "autoescape",
        nodes.EvalContextModifier: "autoescape",
    }
    for kind, word in words.items():
        if type(node) is kind:
            return word
    return type(node).__name__


def _bound_loops(tree: nodes.Template) -> None:
    """Wrap each loop's sequence in the counting filter (after :func:`vet`)."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.lineno)


class ReportSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, stricter (layers 1–3 of the module docstring)."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"+", "-"})

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=StrictUndefined)
        self.globals.clear()
        own = {**self.filters, "join": _join}
        self.filters = {name: _counted(own[name]) for name in sorted(ALLOWED_FILTERS)}
        self.filters[_LOOP_FILTER] = _loop
        self.tests = {name: self.tests[name] for name in sorted(ALLOWED_TESTS)}

    concat = staticmethod(_concat)  # type: ignore[assignment]

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        check_source(source)  # before the lexer: its cost grows with the text and its tags
        tree = super()._parse(source, name, filename)
        vet(tree)
        _bound_loops(tree)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr.startswith("_") or callable(value):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj: Any) -> bool:
        return False

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise TemplateRefused("attribute", attribute)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``x.y``: a key of a mapping, or one of :data:`LOOP_ATTRIBUTES` of ``loop``; the
        attributes of any other object (a string's methods, an image's template, a table's
        markup) are out of reach, so no walk through the object graph starts."""
        _spend()
        if attribute.startswith("_"):
            raise TemplateRefused("attribute", attribute)
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, LoopContext) and attribute in LOOP_ATTRIBUTES:
            return getattr(obj, attribute)
        if isinstance(obj, Undefined):
            return self.undefined(obj=obj, name=attribute)
        raise TemplateRefused("attribute", attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``x['y']`` and ``x[0]``: a key of a mapping, or a position in a list or text."""
        _spend()
        if isinstance(argument, str) and argument.startswith("_"):
            raise TemplateRefused("attribute", argument)
        if isinstance(obj, Mapping) or (
            isinstance(obj, list | tuple | str) and isinstance(argument, int)
        ):
            try:
                return obj[argument]
            except (KeyError, IndexError, TypeError):
                return self.undefined(obj=obj, name=str(argument))
        if isinstance(obj, Undefined):
            return self.undefined(obj=obj, name=str(argument))
        raise TemplateRefused("attribute", str(argument))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        raise TemplateRefused("call", "()")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        raise TemplateRefused("syntax", operator)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        raise TemplateRefused("syntax", operator)

    def format_string(self, *args: Any, **kwargs: Any) -> Any:
        raise TemplateRefused("call", "format")


#: the one sandbox of this process (thread-safe: Jinja environments are, and it is never
#: changed after it is built)
ENV = ReportSandbox()
