"""SPARQL-valued expressions compiled to Spark SQL text.

A line-by-line counterpart of :mod:`fincrime.engine.memory.expressions` (same value model, same
error and type rules), so both executors agree on every FILTER and BIND. Native Spark functions
do the work (``md5``, ``sha1``, ``sha2``, ``concat``, regular expressions, timestamps); the only
Python is the spelling of computed decimals and doubles (see :func:`values.number_lex`).
Expressions are built as SQL text with constants folded (:mod:`fincrime.engine.spark.sql`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache

from fincrime.engine.memory.values import KIND_BLANK, KIND_IRI, KIND_LITERAL, NUMERIC_DATATYPES
from fincrime.engine.spark import values as V
from fincrime.engine.spark.sql import (
    FALSE,
    TRUE,
    S,
    and_,
    binop,
    cast,
    cmp,
    coalesce,
    col,
    eq,
    fn,
    is_in,
    is_null,
    lit,
    not_,
    not_null,
    null,
    or_,
    rlike,
    when,
)
from fincrime.errors import InputError
from fincrime.rdf.terms import (
    RDF_LANGSTRING,
    XSD_BOOLEAN,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_FLOAT,
    XSD_INTEGER,
    XSD_STRING,
)
from fincrime.rules.ast import ECall, EConst, EVar, Expr


@dataclass
class Value:
    """A value per row; ``term`` is the canonical string when the value is an existing term."""

    kind: S
    lex: S
    dt: S
    lang: S
    num: S
    ntype: S
    time: S
    boolv: S
    err: S
    term: S
    number: bool = True  # may be a number without a lexical form (needs number spelling)


def literal_value(**given: S) -> Value:
    parts = {a: given.get(a, V.typed_null(a)) for a in V.ATTRS}
    parts["kind"] = lit(KIND_LITERAL)
    if "ntype" not in given:
        parts["ntype"] = lit(0)
    return Value(**parts, err=given.get("err", FALSE), term=null("STRING"), number="num" in given)


def boolean(value: S, err: S) -> Value:
    v = coalesce(value, FALSE)
    return literal_value(
        lex=when([(v, lit("true"))], lit("false")), dt=lit(XSD_BOOLEAN), boolv=v,
        err=or_(err, and_(is_null(value), not_(err))),
    )


def plain_string(lex: S, err: S) -> Value:
    return literal_value(lex=lex, dt=lit(XSD_STRING), err=err)


def numeric(num: S, ntype: S, err: S) -> Value:
    dt = when([(eq(ntype, lit(rank)), lit(iri_)) for rank, iri_ in NUMERIC_DATATYPES.items()])
    infinite = eq(fn("abs", num), lit(float("inf")))
    small = cmp("<", ntype, lit(3))
    bad = or_(is_null(num), and_(fn("isnan", num), small), and_(infinite, small))
    return literal_value(num=num, ntype=ntype, dt=dt, err=or_(err, coalesce(bad, TRUE)))


class Compiler:
    """Compiles one expression against a frame held by a scratch.

    ``var(name, attr)`` gives a variable's attribute (a column the scratch adds on first use, or
    a constant when the variable's type class is known) and ``sink`` stores a function's result
    as columns, so a sub-result used twice is computed once instead of being re-expanded into
    every expression that reads it.
    """

    def __init__(self, base: str | None, var: Callable[[str, str], S], sink: Callable[[Value], Value]) -> None:
        self.base = base
        self._var = var
        self.sink = sink

    def var(self, name: str) -> Value:
        return _VarValue(name, self._var)

    def const(self, term: str) -> Value:
        attrs = _const_attributes(term)
        return Value(**{a: lit(attrs[a], V.TYPES[a]) if attrs[a] is None else lit(attrs[a]) for a in V.ATTRS},
                     err=FALSE, term=lit(term), number=False)

    def compile(self, expr: Expr) -> Value:
        if isinstance(expr, EVar):
            return self.var(expr.name)
        if isinstance(expr, EConst):
            return self.const(expr.term)
        assert isinstance(expr, ECall)
        op = expr.op
        if op in ("&&", "||"):
            return self.sink(self.logical(op, expr.args))
        if op == "IF":
            return self.sink(self.if_(expr.args))
        handler = _FUNCTIONS.get(op)
        if handler is None:
            raise InputError(f"unsupported function or operator {op} in {expr}")
        arity = _ARITY.get(op)
        if arity is not None and len(expr.args) not in arity:
            raise InputError(f"{op} takes {'/'.join(map(str, sorted(arity)))} argument(s), got {len(expr.args)} in {expr}")
        args = [self.compile(a) for a in expr.args]
        return self.sink(handler(self, args))

    def logical(self, op: str, exprs: tuple[Expr, ...]) -> Value:
        (av, ae), (bv, be) = (ebv(self.compile(e)) for e in exprs)
        if op == "&&":
            false_ = or_(and_(not_(ae), not_(av)), and_(not_(be), not_(bv)))
            err = and_(not_(false_), or_(ae, be))
            return boolean(and_(not_(false_), not_(err)), err)
        true_ = or_(and_(not_(ae), av), and_(not_(be), bv))
        err = and_(not_(true_), or_(ae, be))
        return boolean(true_, err)

    def if_(self, exprs: tuple[Expr, ...]) -> Value:
        if len(exprs) != 3:
            raise InputError("IF takes 3 arguments")
        cond, cerr = ebv(self.compile(exprs[0]))
        a, b = self.compile(exprs[1]), self.compile(exprs[2])
        pick = {f: when([(cond, getattr(a, f))], getattr(b, f), FIELD_TYPES[f]) for f in (*V.ATTRS, "err", "term")}
        pick["err"] = or_(cerr, pick["err"])
        return Value(**pick, number=a.number or b.number)


class _VarValue(Value):
    """A variable's value: attribute columns are built (and added to the frame) only when read."""

    def __init__(self, name: str, column: Callable[[str, str], S]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_column", column)
        object.__setattr__(self, "number", False)

    def __getattr__(self, attr: str) -> S:
        if attr == "err":
            return FALSE
        if attr == "term":
            return col(self._name)  # type: ignore[attr-defined]
        if attr in V.ATTRS:
            return self._column(self._name, attr)  # type: ignore[attr-defined]
        raise AttributeError(attr)


@lru_cache(maxsize=4096)
def _const_attributes(term: str) -> dict[str, object]:
    """A rule constant's attributes, computed once in Python by the in-memory engine's code."""
    import polars as pl

    from fincrime.engine.memory.values import term_attributes

    series = term_attributes(pl.Series([term]), V.ATTRS)
    return {a: series[a][0] for a in V.ATTRS}


VALUE_FIELDS = tuple(f.name for f in fields(Value) if f.name != "number")
FIELD_TYPES = {**V.TYPES, "err": "BOOLEAN", "term": "STRING"}


def is_stringlike(v: Value) -> S:
    return and_(eq(v.kind, lit(KIND_LITERAL)), is_in(v.dt, [XSD_STRING, RDF_LANGSTRING]))


def ebv(v: Value) -> tuple[S, S]:
    """Effective boolean value: (value, error)."""
    val = when([
        (eq(v.dt, lit(XSD_BOOLEAN)), v.boolv),
        (cmp(">", v.ntype, lit(0)), and_(cmp("!=", v.num, lit(0)), not_(fn("isnan", v.num)))),
        (is_stringlike(v), cmp(">", fn("length", v.lex), lit(0))),
    ], type_="BOOLEAN")
    return coalesce(val, FALSE), or_(v.err, is_null(val))


def _compare(op: str, a: Value, b: Value) -> Value:
    both_num = and_(cmp(">", a.ntype, lit(0)), cmp(">", b.ntype, lit(0)))
    both_str = and_(is_stringlike(a), is_stringlike(b), eq(coalesce(a.lang, lit("")), coalesce(b.lang, lit(""))))
    both_time = and_(not_null(a.time), not_null(b.time))
    both_bool = and_(eq(a.dt, lit(XSD_BOOLEAN)), eq(b.dt, lit(XSD_BOOLEAN)), not_null(a.boolv), not_null(b.boolv))
    typed = when([
        (both_num, cmp(op, a.num, b.num)), (both_time, cmp(op, a.time, b.time)),
        (both_str, cmp(op, a.lex, b.lex)), (both_bool, cmp(op, cast(a.boolv, "INT"), cast(b.boolv, "INT"))),
    ], type_="BOOLEAN")
    comparable = or_(both_num, both_time, both_str, both_bool)
    if op in ("=", "!="):
        same_term = and_(
            eq(a.kind, b.kind), eq(a.lex, b.lex),
            eq(coalesce(a.dt, lit("")), coalesce(b.dt, lit(""))),
            eq(coalesce(a.lang, lit("")), coalesce(b.lang, lit(""))),
        )
        result = when([(comparable, typed)], same_term if op == "=" else not_(same_term), "BOOLEAN")
        return boolean(coalesce(result, FALSE), or_(a.err, b.err))
    return boolean(coalesce(typed, FALSE), or_(a.err, b.err, not_(coalesce(comparable, FALSE))))


_CMP_OPS = ("=", "!=", "<", "<=", ">", ">=")


def _arith(op: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        a, b = args
        ok = and_(cmp(">", a.ntype, lit(0)), cmp(">", b.ntype, lit(0)))
        ntype = a.ntype if a.ntype.is_const and b.ntype.is_const and a.ntype.const == b.ntype.const \
            else fn("greatest", a.ntype, b.ntype)
        if op in "+-*":
            num = binop(op, a.num, b.num)
        else:
            ntype = when([(eq(ntype, lit(1)), lit(2))], ntype, "INT")
            ok = and_(ok, not_(and_(eq(b.num, lit(0.0)), cmp("<=", ntype, lit(2)))))
            # IEEE division (x/0 is +-INF or NaN), as polars does; Spark would give null
            num = when([(eq(b.num, lit(0.0)), when([
                (cmp(">", a.num, lit(0.0)), lit(float("inf"))), (cmp("<", a.num, lit(0.0)), lit(float("-inf"))),
            ], lit(float("nan"))))], binop("/", a.num, b.num))
        return numeric(when([(ok, num)], type_="DOUBLE"), ntype, or_(a.err, b.err, not_(coalesce(ok, FALSE))))

    return run


def _neg(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    return numeric(when([(cmp(">", a.ntype, lit(0)), S(f"(- {a.num.sql})"))], type_="DOUBLE"), a.ntype,
                   or_(a.err, eq(a.ntype, lit(0))))


def _not(_: Compiler, args: list[Value]) -> Value:
    val, err = ebv(args[0])
    return boolean(not_(val), err)


def _str(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    blank = eq(a.kind, lit(KIND_BLANK))
    return plain_string(when([(not_(blank), a.lex)]), or_(a.err, blank))


def _iri(c: Compiler, args: list[Value]) -> Value:
    (a,) = args
    text = a.lex
    is_iri = eq(a.kind, lit(KIND_IRI))
    has_scheme = rlike(text, r"^[A-Za-z][A-Za-z0-9+.\-]*:")
    resolved = text if c.base is None else when([(has_scheme, text)], _resolve(c.base, text))
    ok = or_(is_iri, and_(is_stringlike(a), is_null(a.lang)))
    out = when([(is_iri, text), (ok, resolved)])
    return Value(
        kind=lit(KIND_IRI), lex=out, dt=V.typed_null("dt"), lang=V.typed_null("lang"), num=V.typed_null("num"),
        ntype=lit(0), time=V.typed_null("time"), boolv=V.typed_null("boolv"),
        err=or_(a.err, not_(coalesce(ok, FALSE)), is_null(text)), term=when([(is_iri, a.term)]), number=False,
    )


def _resolve(base: str, ref: S) -> S:
    """RFC 3986 resolution of the common relative forms against a fixed base."""
    scheme_end = base.find("://")
    authority_end = base.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    root = base[:authority_end] if authority_end >= 0 else base
    no_frag = base.split("#", 1)[0]
    no_query = no_frag.split("?", 1)[0]
    directory = no_query[: no_query.rfind("/") + 1] if "/" in no_query[scheme_end + 3 :] else no_query + "/"
    return when([
        (eq(ref, lit("")), lit(no_frag)),
        (fn("startswith", ref, lit("#")), fn("concat", lit(no_frag), ref)),
        (fn("startswith", ref, lit("?")), fn("concat", lit(no_query), ref)),
        (fn("startswith", ref, lit("//")), fn("concat", lit(base[: scheme_end + 1]), ref)),
        (fn("startswith", ref, lit("/")), fn("concat", lit(root), ref)),
    ], fn("concat", lit(directory), fn("regexp_replace", ref, lit(r"^(\./)+"), lit(""))))


def _concat(_: Compiler, args: list[Value]) -> Value:
    if not args:
        return plain_string(lit(""), FALSE)
    ok = and_(*[is_stringlike(a) for a in args])
    err = or_(*[a.err for a in args])
    return plain_string(when([(ok, fn("concat", *[a.lex for a in args]))]), or_(err, not_(coalesce(ok, FALSE))))


def _hash(kind: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        ok = and_(is_stringlike(a), not_null(a.lex))
        text = when([(ok, a.lex)])
        digest = {
            "MD5": lambda: fn("md5", text), "SHA1": lambda: fn("sha1", text), "SHA256": lambda: fn("sha2", text, lit(256)),
            "SHA384": lambda: fn("sha2", text, lit(384)), "SHA512": lambda: fn("sha2", text, lit(512)),
        }[kind]()
        return plain_string(digest, or_(a.err, not_(coalesce(ok, FALSE))))

    return run


def _strlen(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    ok = is_stringlike(a)
    return numeric(when([(ok, cast(fn("char_length", a.lex), "DOUBLE"))], type_="DOUBLE"), lit(1), or_(a.err, not_(ok)))


def _substr(_: Compiler, args: list[Value]) -> Value:
    s, start = args[0], args[1]
    ok = and_(is_stringlike(s), cmp(">", start.ntype, lit(0)))
    begin = binop("-", fn("bround", start.num, lit(0)), lit(1))
    lo = fn("greatest", begin, lit(0.0))
    if len(args) == 3:
        end = binop("+", begin, fn("bround", args[2].num, lit(0)))
        n = cast(fn("greatest", binop("-", end, lo), lit(0.0)), "INT")
    else:
        n = lit(2**31 - 1)
    text = fn("substr", s.lex, binop("+", cast(lo, "INT"), lit(1)), n)
    err = or_(s.err, start.err, not_(ok))
    if len(args) == 3:
        err = or_(err, args[2].err, eq(args[2].ntype, lit(0)))
    return literal_value(lex=when([(ok, text)]), dt=s.dt, lang=s.lang, err=err)


def _case(upper: bool) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        ok = is_stringlike(a)
        text = fn("upper" if upper else "lower", a.lex)
        return literal_value(lex=when([(ok, text)]), dt=a.dt, lang=a.lang, err=or_(a.err, not_(ok)))

    return run


def _strtest(kind: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        a, b = args
        ok = and_(is_stringlike(a), is_stringlike(b))
        res = fn({"CONTAINS": "contains", "STRSTARTS": "startswith", "STRENDS": "endswith"}[kind], a.lex, b.lex)
        return boolean(when([(ok, res)], type_="BOOLEAN"), or_(a.err, b.err, not_(ok)))

    return run


def _regex(_: Compiler, args: list[Value]) -> Value:
    a, pattern = args[0], args[1]
    flags = args[2].lex if len(args) == 3 else lit("")
    ok = and_(is_stringlike(a), is_stringlike(pattern))
    full = when([(fn("contains", flags, lit("i")), fn("concat", lit("(?i)"), pattern.lex))], pattern.lex)
    return boolean(when([(ok, fn("regexp_like", a.lex, full))], type_="BOOLEAN"), or_(a.err, pattern.err, not_(ok)))


def _lang(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    is_lit = eq(a.kind, lit(KIND_LITERAL))
    return plain_string(when([(is_lit, coalesce(a.lang, lit("")))]), or_(a.err, not_(is_lit)))


def _datatype(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    out = when([(eq(a.kind, lit(KIND_LITERAL)), a.dt)])
    return Value(kind=lit(KIND_IRI), lex=out, dt=V.typed_null("dt"), lang=V.typed_null("lang"), num=V.typed_null("num"),
                 ntype=lit(0), time=V.typed_null("time"), boolv=V.typed_null("boolv"), err=or_(a.err, is_null(out)),
                 term=null("STRING"), number=False)


def _kind_test(test: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        res = {
            "ISIRI": lambda: eq(a.kind, lit(KIND_IRI)), "ISURI": lambda: eq(a.kind, lit(KIND_IRI)),
            "ISBLANK": lambda: eq(a.kind, lit(KIND_BLANK)), "ISLITERAL": lambda: eq(a.kind, lit(KIND_LITERAL)),
            "ISNUMERIC": lambda: cmp(">", a.ntype, lit(0)),
        }[test]()
        return boolean(res, a.err)

    return run


def _math(kind: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        num = {"ABS": lambda: fn("abs", a.num), "CEIL": lambda: cast(fn("ceil", a.num), "DOUBLE"),
               "FLOOR": lambda: cast(fn("floor", a.num), "DOUBLE"),
               "ROUND": lambda: cast(fn("floor", binop("+", a.num, lit(0.5))), "DOUBLE")}[kind]()
        return numeric(when([(cmp(">", a.ntype, lit(0)), num)], type_="DOUBLE"), a.ntype, or_(a.err, eq(a.ntype, lit(0))))

    return run


# --- extension functions (XPath math namespace), kept apart from the SPARQL built-ins ---------
MATH_LOG = "<http://www.w3.org/2005/xpath-functions/math#log>"


def _math_log(_: Compiler, args: list[Value]) -> Value:
    """``math:log(x)``: natural logarithm as xsd:double; an error unless x is a number above 0
    (the counterpart of the in-memory executor's)."""
    (a,) = args
    ok = and_(cmp(">", a.ntype, lit(0)), cmp(">", a.num, lit(0.0)))
    return numeric(when([(ok, fn("ln", a.num))], type_="DOUBLE"), lit(4), or_(a.err, not_(coalesce(ok, FALSE))))


def _date_part(part: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        missing = or_(a.err, is_null(a.time))
        if part == "SECONDS":
            secs = binop("/", cast(fn("pmod", a.time, lit(60_000_000, "BIGINT")), "DOUBLE"), lit(1e6))
            return numeric(secs, lit(2), missing)
        stamp = fn("timestamp_micros", a.time)
        name = {"YEAR": "year", "MONTH": "month", "DAY": "dayofmonth", "HOURS": "hour", "MINUTES": "minute"}[part]
        return numeric(cast(fn(name, stamp), "DOUBLE"), lit(1), missing)

    return run


def _in(negate: bool) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        head, *options = args
        hits = []
        for o in options:
            same = _compare("=", head, o)
            hits.append(and_(same.boolv, not_(same.err)))
        hit = or_(*hits) if hits else FALSE
        return boolean(not_(hit) if negate else hit, head.err)

    return run


def _cast(target: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(c: Compiler, args: list[Value]) -> Value:
        (a,) = args
        if target == XSD_STRING:
            return _str(c, args)
        if target in (XSD_INTEGER, XSD_DECIMAL, XSD_DOUBLE, XSD_FLOAT):
            rank = {XSD_INTEGER: 1, XSD_DECIMAL: 2, XSD_FLOAT: 3, XSD_DOUBLE: 4}[target]
            from_str = cast(fn("trim", a.lex), "DOUBLE")
            valid_int = rlike(a.lex, r"^\s*[+-]?[0-9]+\s*$")
            valid_dec = rlike(a.lex, r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$")
            parse_ok = valid_int if rank == 1 else (valid_dec if rank == 2 else not_null(from_str))
            num = when([
                (cmp(">", a.ntype, lit(0)), cast(fn("floor", a.num), "DOUBLE") if rank == 1 else a.num),
                (eq(a.dt, lit(XSD_BOOLEAN)), cast(a.boolv, "DOUBLE")),
                (and_(is_stringlike(a), parse_ok), from_str),
            ], type_="DOUBLE")
            return numeric(num, lit(rank), a.err)
        if target == XSD_BOOLEAN:
            val = when([
                (eq(a.dt, lit(XSD_BOOLEAN)), a.boolv),
                (cmp(">", a.ntype, lit(0)), cmp("!=", a.num, lit(0.0))),
                (and_(is_stringlike(a), is_in(a.lex, ["true", "1"])), TRUE),
                (and_(is_stringlike(a), is_in(a.lex, ["false", "0"])), FALSE),
            ], type_="BOOLEAN")
            return boolean(val, a.err)
        if target == XSD_DATETIME:
            ok = or_(eq(a.dt, lit(XSD_DATETIME)), is_stringlike(a))
            t = V.time_of(a.lex, lit(XSD_DATETIME))
            return literal_value(lex=when([(and_(ok, not_null(t)), a.lex)]), dt=lit(XSD_DATETIME), time=t,
                                 err=or_(a.err, not_(ok), is_null(t)))
        raise InputError(f"unsupported cast to <{target}>")

    return run


_FUNCTIONS: dict[str, Callable[[Compiler, list[Value]], Value]] = {
    **{op: (lambda op_: (lambda c, a: _compare(op_, a[0], a[1])))(op) for op in _CMP_OPS},
    **{op: _arith(op) for op in ("+", "-", "*", "/")},
    "NEG": _neg, "!": _not, "STR": _str, "IRI": _iri, "URI": _iri, "CONCAT": _concat,
    **{h: _hash(h) for h in ("MD5", "SHA1", "SHA256", "SHA384", "SHA512")},
    "STRLEN": _strlen, "SUBSTR": _substr, "UCASE": _case(True), "LCASE": _case(False),
    **{t: _strtest(t) for t in ("CONTAINS", "STRSTARTS", "STRENDS")},
    "REGEX": _regex, "LANG": _lang, "DATATYPE": _datatype,
    **{t: _kind_test(t) for t in ("ISIRI", "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC")},
    **{m: _math(m) for m in ("ABS", "CEIL", "FLOOR", "ROUND")},
    **{p: _date_part(p) for p in ("YEAR", "MONTH", "DAY", "HOURS", "MINUTES", "SECONDS")},
    "IN": _in(False), "NOT IN": _in(True), MATH_LOG: _math_log,
    **{f"<{t}>": _cast(t) for t in (XSD_STRING, XSD_INTEGER, XSD_DECIMAL, XSD_DOUBLE, XSD_FLOAT, XSD_BOOLEAN, XSD_DATETIME)},
}
_ARITY: dict[str, set[int]] = {
    **{op: {2} for op in ("=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "CONTAINS", "STRSTARTS", "STRENDS")},
    **{f: {1} for f in ("NEG", "!", "STR", "IRI", "URI", "MD5", "SHA1", "SHA256", "SHA384", "SHA512", "STRLEN",
                        "UCASE", "LCASE", "LANG", "DATATYPE", "ISIRI", "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC",
                        "ABS", "CEIL", "FLOOR", "ROUND", "YEAR", "MONTH", "DAY", "HOURS", "MINUTES", "SECONDS")},
    "SUBSTR": {2, 3}, "REGEX": {2, 3}, MATH_LOG: {1},
}


def value_term(v: Value) -> S:
    """The term a value denotes: the existing term, or its canonical spelling; null on error."""
    spelled = V.spell(v.kind, v.lex, v.dt, v.lang, v.ntype, v.num, v.number)
    return when([(not_(v.err), coalesce(v.term, spelled))])
