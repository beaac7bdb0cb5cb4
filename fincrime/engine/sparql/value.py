"""A SPARQL value per row, as expression nodes, and the constructors functions build results with.

A :class:`Value` holds one node per field of the value model (:mod:`model`), plus ``err`` (the
SPARQL error / unbound state) and ``term`` (the backend's handle of the value's term when the value
is an existing term unchanged, so a term passed through ``BIND`` or ``IF`` needs no re-spelling).
``short`` and ``bound`` are static knowledge: the value is a number whose double is a faithful
image of it (an integer or decimal of at most 15 characters), so comparisons need no exact path;
an integer below ``bound`` in magnitude (YEAR(), a small constant, a counted length), so
arithmetic whose result stays below 2**53 needs none either.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from fincrime.engine.sparql.expr import (
    FALSE,
    X,
    and_,
    call,
    cmp,
    coalesce,
    eq,
    is_in,
    is_null,
    lit,
    not_,
    null,
    or_,
    when,
)
from fincrime.engine.sparql.model import (
    BOOL,
    FIELD_TYPES,
    INT,
    KIND_IRI,
    KIND_LITERAL,
    NUMERIC_DATATYPES,
    RANK_FLOAT,
    RANK_NONE,
    TERM,
)
from fincrime.rdf.terms import RDF_LANGSTRING, XSD_BOOLEAN, XSD_STRING

SHORT_LENGTH = 15  # at most this many characters: a double holds the number faithfully


@dataclass
class Value:
    kind: X
    lex: X
    dt: X
    lang: X
    num: X
    ntype: X
    time: X
    boolv: X
    err: X
    term: X
    short: bool = False
    bound: float | None = None
    spelled: bool = False  # ``lex`` is never null for a value that is not an error (terms)

    def with_err(self, err: X) -> Value:
        parts = {f: getattr(self, f) for f in VALUE_FIELDS}
        parts["err"] = or_(self.err, err)
        return Value(**parts, **self.static())

    def static(self) -> dict[str, object]:
        """What is known of the value before the run (see the module's docstring)."""
        return {"short": self.short, "bound": self.bound, "spelled": self.spelled}


VALUE_FIELDS = tuple(f.name for f in fields(Value) if f.name not in ("short", "bound", "spelled"))
FIELD_TYPES_ALL = {**FIELD_TYPES, "err": BOOL, "term": TERM}


def kind_lit(kind: int) -> X:
    return lit(kind, INT)


def rank_lit(rank: int) -> X:
    return lit(rank, INT)


def literal_value(**given: X) -> Value:
    parts = {f: given.get(f, null(FIELD_TYPES[f])) for f in FIELD_TYPES}
    parts["kind"] = kind_lit(KIND_LITERAL)
    parts["ntype"] = given.get("ntype", rank_lit(RANK_NONE))
    return Value(**parts, err=given.get("err", FALSE), term=null(TERM))


def iri_value(lex: X, err: X, term: X | None = None) -> Value:
    parts = {f: null(FIELD_TYPES[f]) for f in FIELD_TYPES}
    parts.update(kind=kind_lit(KIND_IRI), lex=lex, ntype=rank_lit(RANK_NONE))
    return Value(**parts, err=err, term=term if term is not None else null(TERM))


def boolean(value: X, err: X) -> Value:
    v = coalesce(value, FALSE)
    return literal_value(
        lex=when([(v, lit("true"))], lit("false")), dt=lit(XSD_BOOLEAN), boolv=v,
        err=or_(err, and_(is_null(value), not_(err))),
    )


def plain_string(lex: X, err: X) -> Value:
    return literal_value(lex=lex, dt=lit(XSD_STRING), err=err)


def datatype_of_rank(ntype: X) -> X:
    return when([(eq(ntype, rank_lit(rank)), lit(iri_)) for rank, iri_ in NUMERIC_DATATYPES.items()])


def numeric(num: X, ntype: X, err: X, lex: X | None = None, short: bool = False,
            bound: float | None = None) -> Value:
    """A computed number; ``lex`` its exact canonical form where ``num`` is not exact."""
    infinite = eq(call("abs", num), lit(float("inf")))
    exact_kind = cmp("<", ntype, rank_lit(RANK_FLOAT))
    bad = or_(is_null(num), and_(or_(call("is_nan", num), infinite), exact_kind))
    value = literal_value(num=num, ntype=ntype, dt=datatype_of_rank(ntype), err=or_(err, coalesce(bad, lit(True))))
    if lex is not None:
        value.lex = lex
    value.short = short or (bound is not None and bound <= 1e15)
    value.bound = bound
    return value


def is_stringlike(v: Value) -> X:
    return and_(eq(v.kind, kind_lit(KIND_LITERAL)), is_in(v.dt, [XSD_STRING, RDF_LANGSTRING]))


def ebv(v: Value) -> tuple[X, X]:
    """Effective boolean value: (value, error)."""
    val = when([
        (eq(v.dt, lit(XSD_BOOLEAN)), v.boolv),
        (cmp(">", v.ntype, rank_lit(RANK_NONE)), and_(cmp("!=", v.num, lit(0.0)), not_(call("is_nan", v.num)))),
        (is_stringlike(v), cmp(">", call("length", v.lex), lit(0))),
    ], type_=BOOL)
    return coalesce(val, FALSE), or_(v.err, is_null(val))
