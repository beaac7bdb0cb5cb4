"""FILTER, BIND and AGGREGATE over frames of bindings, written once against a :class:`Backend`.

A backend is an executor's engine seen through a few frame operations (add columns, filter,
group, join) and the compilation of expression nodes; it also says how a variable's fields are
read (the in-memory executor gathers them from its term dictionary, the Spark executor decodes
the term strings) and how a computed value becomes a term (a dictionary id, or a canonical
string).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from fincrime.engine.sparql.expr import X, and_, call, col, eq, not_, not_null, or_
from fincrime.engine.sparql.functions import Compiler
from fincrime.engine.sparql.heads import HeadCheck
from fincrime.engine.sparql.model import ABSOLUTE_IRI, BOOL, KIND_BLANK, KIND_IRI, RANK_NONE, TERM
from fincrime.engine.sparql.value import VALUE_FIELDS, Value, ebv, kind_lit
from fincrime.rules.ast import EVar, Expr, expr_vars

Frame = Any


class Backend(ABC):
    """What an executor provides so the shared code can evaluate expressions on its frames."""

    # --- frames -----------------------------------------------------------------------------
    @abstractmethod
    def columns(self, frame: Frame) -> list[str]: ...

    @abstractmethod
    def add_columns(self, frame: Frame, columns: dict[str, X]) -> Frame: ...

    @abstractmethod
    def filter(self, frame: Frame, condition: X) -> Frame: ...

    @abstractmethod
    def select(self, frame: Frame, names: list[str]) -> Frame: ...

    @abstractmethod
    def distinct(self, frame: Frame) -> Frame: ...

    @abstractmethod
    def group(self, frame: Frame, keys: list[str], aggregates: dict[str, X]) -> Frame:
        """One row per distinct ``keys`` (one row in all when there are none, even for no
        input rows) with the aggregate nodes (``agg_*`` operations) computed per group."""

    @abstractmethod
    def join(self, left: Frame, right: Frame, on: list[str]) -> Frame:
        """Inner join on ``on`` (a cross join when empty)."""

    # --- values -----------------------------------------------------------------------------
    @abstractmethod
    def field(self, scratch: Scratch, var: str, attr: str) -> X:
        """A node reading field ``attr`` of variable ``var`` (``term``: its term handle)."""

    @abstractmethod
    def prepare(self, scratch: Scratch) -> None:
        """Add to ``scratch.frame`` the columns ``field`` asked for and not yet added."""

    @abstractmethod
    def term_ref(self, term: str) -> X:
        """The handle of a constant term (a null node when the backend has no such term)."""

    @abstractmethod
    def hints(self, frame: Frame, variables: set[str]) -> dict[str, int]:
        """Variables whose every value in ``frame`` has one type class."""

    def statics(self) -> dict[str, dict[str, Any]]:
        """What earlier steps of the body know statically of variables they bound
        (:meth:`Value.static`); a backend that keeps it across steps returns it here."""
        return {}

    def keep_inline(self, fields: dict[str, X]) -> bool:
        """Whether a function's result is cheap enough to repeat where it is read."""
        return False

    @abstractmethod
    def encode(self, scratch: Scratch, value: Value, name: str) -> None:
        """Add to ``scratch.frame`` the term of ``value`` as column ``name`` (null on error)."""

    @abstractmethod
    def count(self, frame: Frame) -> int: ...

    @abstractmethod
    def carry(self, frame: Frame) -> Frame:
        """The columns a step passes on (variables, and whatever the backend keeps with them)."""


class Scratch:
    """A frame being extended with the columns an expression needs: variables' fields and each
    function's result (so a sub-result read twice is computed once)."""

    def __init__(self, backend: Backend, frame: Frame) -> None:
        self.backend = backend
        self.frame = frame
        self.pending: dict[str, Any] = {}  # columns the backend will add (its own bookkeeping)
        self._n = 0

    def compiler(self, base: str | None, variables: set[str]) -> Compiler:
        return Compiler(
            base, lambda v, a: self.backend.field(self, v, a), self.backend.term_ref, self.store,
            self.backend.hints(self.frame, variables), self.backend.statics(),
        )

    def store(self, value: Value) -> Value:
        fields = {f: getattr(value, f) for f in VALUE_FIELDS}
        computed = {f: x for f, x in fields.items() if not x.is_const and x.op != "col"}
        if not computed or self.backend.keep_inline(computed):
            return value
        self.add(computed, names := {f: self.name(f) for f in computed})
        return Value(**{f: col(names[f], x.type) if f in names else x for f, x in fields.items()},
                     **value.static())

    def name(self, what: str) -> str:
        self._n += 1
        return f"__x{self._n}_{what}"

    def add(self, columns: dict[str, X], names: dict[str, str] | None = None) -> None:
        self.backend.prepare(self)
        names = names or {k: k for k in columns}
        self.frame = self.backend.add_columns(self.frame, {names[k]: x for k, x in columns.items()})

    def ready(self) -> Frame:
        self.backend.prepare(self)
        return self.frame


def compile_value(backend: Backend, frame: Frame, expr: Expr, base: str | None) -> tuple[Scratch, Value]:
    scratch = Scratch(backend, frame)
    return scratch, scratch.compiler(base, expr_vars(expr)).compile(expr)


def filter_rows(backend: Backend, frame: Frame, expr: Expr, base: str | None) -> Frame:
    """The rows whose condition holds (an error is not a match)."""
    scratch, value = compile_value(backend, frame, expr, base)
    val, err = ebv(value)
    scratch.add({"__keep": and_(val, not_(err))})
    return backend.carry(backend.filter(scratch.ready(), col("__keep")))


def bind(backend: Backend, frame: Frame, expr: Expr, base: str | None, var: str) -> Frame:
    """``BIND(expr AS ?var)``: rows where it errs get no binding; a bound ``?var`` must equal it."""
    if isinstance(expr, EVar) and var not in backend.columns(frame):
        scratch = Scratch(backend, frame)
        scratch.add({var: backend.field(scratch, expr.name, "term")})
        return backend.carry(scratch.ready())
    scratch, value = compile_value(backend, frame, expr, base)
    target = var if var not in backend.columns(frame) else "__bound"
    backend.encode(scratch, value, target)
    if target == var:
        backend.statics()[var] = value.static()
    out = scratch.ready()
    if target == var:
        return backend.carry(backend.filter(out, not_null(col(var, TERM))))
    return backend.carry(backend.filter(out, eq(col(target, TERM), col(var, TERM))))


def valid_heads(backend: Backend, frame: Frame, checks: list[HeadCheck]) -> tuple[Frame, dict[str, int]]:
    """The rows whose head triples are valid N-Triples, and how many were not, by reason."""
    scratch = Scratch(backend, frame)
    oks: dict[str, X] = {}
    for i, check in enumerate(checks):
        kind = backend.field(scratch, check.var, "kind")
        absolute = call("matches", backend.field(scratch, check.var, "lex"), param=ABSOLUTE_IRI, type_=BOOL)
        iri = and_(eq(kind, kind_lit(KIND_IRI)), absolute)
        oks[f"__ok{i}"] = {
            "subject": or_(iri, eq(kind, kind_lit(KIND_BLANK))), "predicate": iri,
            "object": or_(not_(eq(kind, kind_lit(KIND_IRI))), absolute),
        }[check.position]
    scratch.add(oks)
    frame = scratch.ready()
    skipped: dict[str, int] = {}
    for (name, _), check in zip(oks.items(), checks, strict=True):
        bad = backend.count(backend.filter(frame, not_(col(name, BOOL))))
        if bad:
            skipped[check.reason] = skipped.get(check.reason, 0) + bad
    if skipped:
        frame = backend.filter(frame, and_(*[col(n, BOOL) for n in oks]))
    return backend.carry(frame), skipped


def may_be_number(v: Value) -> bool:
    return not (v.ntype.is_const and v.ntype.const == RANK_NONE)


__all__ = ["Backend", "Scratch", "bind", "compile_value", "filter_rows", "may_be_number", "valid_heads"]
