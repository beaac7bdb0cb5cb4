"""Abstract syntax of RDFox-dialect Datalog programs.

Terms inside rules are either variables or constants; constants are canonical N-Triples term
strings (see :mod:`fincrime.rdf.terms`), so a rule constant and a data term compare as strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Pos:
    source: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Var:
    name: str

    def __str__(self) -> str:
        return f"?{self.name}"


@dataclass(frozen=True, slots=True)
class Const:
    term: str

    def __str__(self) -> str:
        return self.term


Arg = Var | Const


@dataclass(frozen=True, slots=True)
class Atom:
    """A triple atom ``[s, p, o]`` (``table`` is None) or an n-ary tuple-table atom.

    ``graph`` is the named graph of a triple atom (``[s, p, o] :G`` or ``[s, p, o] ?g``): a
    constant IRI or a variable; None is the default graph. RDFox reads a variable graph over
    the named graphs only, never the default graph. Tuple-table atoms have no graph.

    Every way of writing an atom comes down to these fields: ``:C[?x]`` and the older
    ``:C(?x)`` are ``[?x, rdf:type, :C]``, ``:p[?x, ?y]`` and ``:p(?x, ?y)`` are
    ``[?x, :p, ?y]``; ``form`` records which spelling was used (for messages only).
    """

    args: tuple[Arg, ...]
    table: str | None = None
    pos: Pos | None = field(default=None, compare=False)
    graph: Arg | None = None
    form: str = field(default="", compare=False)  # "", "bracket", "paren" (shorthands), "table"

    @property
    def is_triple(self) -> bool:
        return self.table is None

    def variables(self) -> set[str]:
        out = {a.name for a in self.args if isinstance(a, Var)}
        if isinstance(self.graph, Var):
            out.add(self.graph.name)
        return out

    def __str__(self) -> str:
        inner = ", ".join(map(str, self.args))
        if self.table is not None:
            return f"{self.table}({inner})"
        return f"[{inner}]" + (f" {self.graph}" if self.graph is not None else "")


# --- expressions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EVar:
    name: str

    def __str__(self) -> str:
        return f"?{self.name}"


@dataclass(frozen=True, slots=True)
class EConst:
    term: str

    def __str__(self) -> str:
        return self.term


@dataclass(frozen=True, slots=True)
class ECall:
    """An operator or function application; ``op`` is upper-case (``+``, ``<``, ``MD5``, ...)
    or a full datatype IRI for casts (``<http://www.w3.org/2001/XMLSchema#integer>``).

    The names and arities the language accepts are :data:`fincrime.rules.builtins.FUNCTIONS`
    (checked at parse time). ``SKOLEM(t1, ..., tn)`` (n >= 1) is an ``ECall("SKOLEM", ...)``
    like any other function: its value is a blank node determined by the values of its
    arguments (equal argument values give the same node, in every run and on every engine).
    """

    op: str
    args: tuple[Expr, ...]
    pos: Pos | None = field(default=None, compare=False)

    def __str__(self) -> str:
        if len(self.args) == 2 and not self.op[0].isalnum() and not self.op.startswith("<"):
            return f"({self.args[0]} {self.op} {self.args[1]})"
        return f"{self.op}({', '.join(map(str, self.args))})"


Expr = EVar | EConst | ECall


def expr_vars(expr: Expr) -> set[str]:
    if isinstance(expr, EVar):
        return {expr.name}
    if isinstance(expr, ECall):
        out: set[str] = set()
        for a in expr.args:
            out |= expr_vars(a)
        return out
    return set()


# --- body literals -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filter:
    expr: Expr
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Bind:
    expr: Expr
    var: str
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Negation:
    """``NOT atom``, ``NOT (conj)`` or ``NOT EXISTS ?v... IN (conj)``."""

    body: tuple[BodyItem, ...]
    exists: tuple[str, ...] = ()
    pos: Pos | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class AggBind:
    """``BIND func(args) AS ?var`` inside an AGGREGATE.

    ``func`` is the upper-case name as written (:data:`fincrime.rules.builtins.AGGREGATES`):
    ``COUNT`` (``args`` empty for ``COUNT(*)``), ``SUM``, ``MUL`` (product), ``MIN``, ``MAX``,
    ``AVG``, ``SAMPLE``, ``GROUP_CONCAT`` (``separator``), ``COUNT_MIN`` / ``COUNT_MAX`` (how
    many answers have the group's smallest / largest value of the argument), and the selecting
    forms ``<F>_ARGMIN`` / ``<F>_ARGMAX`` (e.g. ``MIN_ARGMAX(?name, ?amount)``): ``args`` is
    ``(value, key)`` and the result is aggregate ``F`` of ``value`` over the answers whose
    ``key`` is the group's smallest / largest. :attr:`base` and :attr:`selector` split the name.
    """

    func: str
    args: tuple[Expr, ...]
    var: str
    distinct: bool = False
    separator: str = " "
    pos: Pos | None = field(default=None, compare=False)

    @property
    def base(self) -> str:
        """The aggregate applied: ``MIN`` for ``MIN_ARGMAX``, else ``func`` itself."""
        head, _, tail = self.func.rpartition("_")
        return head if tail in ("ARGMIN", "ARGMAX") else self.func

    @property
    def selector(self) -> str:
        """``ARGMIN`` / ``ARGMAX`` for the selecting forms, else ``""``."""
        tail = self.func.rpartition("_")[2]
        return tail if tail in ("ARGMIN", "ARGMAX") else ""


@dataclass(frozen=True, slots=True)
class Aggregate:
    body: tuple[BodyItem, ...]
    group: tuple[str, ...]
    binds: tuple[AggBind, ...]
    pos: Pos | None = field(default=None, compare=False)


BodyItem = Atom | Filter | Bind | Negation | Aggregate


@dataclass(frozen=True, slots=True)
class Rule:
    head: tuple[Atom, ...]
    body: tuple[BodyItem, ...]
    pos: Pos | None = field(default=None, compare=False)
    text: str = field(default="", compare=False)
    base: str | None = field(default=None, compare=False)  # the file's base, for IRI()

    @property
    def is_fact(self) -> bool:
        return not self.body

    def label(self) -> str:
        where = f"{self.pos.source}:{self.pos.line}" if self.pos else "?"
        return f"{where} {', '.join(map(str, self.head))}"


@dataclass
class Program:
    rules: list[Rule] = field(default_factory=list)
    prefixes: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    # The plan of these rules, kept by :func:`fincrime.rules.plan.build_plan` with the rules it
    # was built from, so checking a program and running it plan it once.
    plan_cache: tuple[tuple[Rule, ...], Any] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def facts(self) -> list[Rule]:
        return [r for r in self.rules if r.is_fact]
