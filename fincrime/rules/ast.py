"""Abstract syntax of RDFox-dialect Datalog programs.

Terms inside rules are either variables or constants; constants are canonical N-Triples term
strings (see :mod:`fincrime.rdf.terms`), so a rule constant and a data term compare as strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    """A triple atom ``[s, p, o]`` (``table`` is None) or an n-ary tuple-table atom."""

    args: tuple[Arg, ...]
    table: str | None = None
    pos: Pos | None = field(default=None, compare=False)

    @property
    def is_triple(self) -> bool:
        return self.table is None

    def variables(self) -> set[str]:
        return {a.name for a in self.args if isinstance(a, Var)}

    def __str__(self) -> str:
        inner = ", ".join(map(str, self.args))
        return f"[{inner}]" if self.table is None else f"{self.table}({inner})"


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
    or a full datatype IRI for casts (``<http://www.w3.org/2001/XMLSchema#integer>``)."""

    op: str
    args: tuple[Expr, ...]

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
    func: str  # COUNT, SUM, MIN, MAX, AVG, SAMPLE, GROUP_CONCAT
    args: tuple[Expr, ...]
    var: str
    distinct: bool = False
    separator: str = " "


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

    @property
    def facts(self) -> list[Rule]:
        return [r for r in self.rules if r.is_fact]
