"""SPARQL-valued expressions compiled to polars expressions.

An expression evaluates, row by row, to a :class:`Value`: the typed attributes of a term (see
:mod:`values`) plus ``err`` (the SPARQL error / unbound state) and ``id`` (the dictionary id when
the value is an existing term, so passing a term through ``BIND`` needs no re-encoding). Errors
follow SPARQL: ``FILTER`` drops a row whose condition errs, ``||``/``&&`` absorb an error when the
other side decides, and a ``BIND`` that errs leaves no binding (the rule does not fire for that row).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
import polars_hash  # noqa: F401  (registers the nchash/chash expression namespaces)

from fincrime.engine.memory.values import (
    DTYPES,
    KIND_BLANK,
    KIND_IRI,
    KIND_LITERAL,
    NUMERIC_DATATYPES,
    TCLASS_BLANK,
    TCLASS_DATATYPES,
    TCLASS_IRI,
    TCLASS_OTHER,
    ntype_expr,
    term_attributes,
    time_expr,
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

#: The typed fields of a value (the dictionary also keeps ``tclass``, used only for hints).
VALUE_ATTRS = ("kind", "lex", "dt", "lang", "num", "ntype", "time", "boolv")


def attr_column(var: str, attr: str) -> str:
    return f"__{attr}__{var}"


def _null(attr: str) -> pl.Expr:
    return pl.lit(None, DTYPES[attr])


@dataclass
class Value:
    kind: pl.Expr
    lex: pl.Expr
    dt: pl.Expr
    lang: pl.Expr
    num: pl.Expr
    ntype: pl.Expr
    time: pl.Expr
    boolv: pl.Expr
    err: pl.Expr
    id: pl.Expr = field(default_factory=lambda: pl.lit(None, pl.UInt32))

    def with_err(self, err: pl.Expr) -> Value:
        return Value(self.kind, self.lex, self.dt, self.lang, self.num, self.ntype, self.time,
                     self.boolv, self.err | err, self.id)


def literal_value(*, lex=None, dt=None, lang=None, num=None, ntype=None, time=None, boolv=None, err=None) -> Value:  # type: ignore[no-untyped-def]
    return Value(
        kind=pl.lit(KIND_LITERAL, pl.Int8),
        lex=lex if lex is not None else _null("lex"),
        dt=dt if dt is not None else _null("dt"),
        lang=lang if lang is not None else _null("lang"),
        num=num if num is not None else _null("num"),
        ntype=ntype if ntype is not None else pl.lit(0, pl.Int8),
        time=time if time is not None else _null("time"),
        boolv=boolv if boolv is not None else _null("boolv"),
        err=err if err is not None else pl.lit(False),
    )


def boolean(value: pl.Expr, err: pl.Expr) -> Value:
    v = value.fill_null(False)
    return literal_value(
        lex=pl.when(v).then(pl.lit("true")).otherwise(pl.lit("false")),
        dt=pl.lit(XSD_BOOLEAN), boolv=v, err=err | value.is_null() & ~err,
    )


def plain_string(lex: pl.Expr, err: pl.Expr) -> Value:
    """A plain literal; ``err`` must already cover every row where ``lex`` is null (testing
    ``lex.is_null()`` here would evaluate the whole ``lex`` expression a second time)."""
    return literal_value(lex=lex, dt=pl.lit(XSD_STRING), err=err)


def numeric(num: pl.Expr, ntype: pl.Expr, err: pl.Expr) -> Value:
    dt = pl.lit(None, pl.String)
    for rank, iri_ in NUMERIC_DATATYPES.items():
        dt = pl.when(ntype == rank).then(pl.lit(iri_)).otherwise(dt)
    bad = num.is_null() | (num.is_nan() & (ntype < 3)) | (num.is_infinite() & (ntype < 3))
    return literal_value(num=num, ntype=ntype, dt=dt, err=err | bad.fill_null(True))


class Compiler:
    """Compiles one expression; records which (variable, attribute) columns it reads."""

    def __init__(
        self,
        base: str | None,
        resolve_const: Callable[[str], int | None],
        sink: Callable[[Compiler, Value], Value] | None = None,
    ) -> None:
        self.base = base
        self.resolve_const = resolve_const
        # Each function's result is handed to ``sink``, which stores it as columns and returns
        # column references: without it every use of a sub-result re-expands (and re-computes)
        # the whole sub-expression inside polars.
        self.sink = sink or (lambda _c, v: v)
        self.used: set[tuple[str, str]] = set()
        self.hints: dict[str, int] = {}  # variable -> its single type class in this frame
        self._const_cache: dict[str, dict[str, object]] = {}

    # --- leaves ---------------------------------------------------------------------------
    def var(self, name: str) -> Value:
        fixed = constant_fields(self.hints.get(name))

        def col(attr: str) -> pl.Expr:
            if attr in fixed:
                return fixed[attr]
            self.used.add((name, attr))
            return pl.col(attr_column(name, attr))

        return _LazyVarValue(name, col)

    def const(self, term: str) -> Value:
        attrs = self._const_cache.get(term)
        if attrs is None:
            series = term_attributes(pl.Series([term]), VALUE_ATTRS)
            attrs = {a: series[a][0] for a in VALUE_ATTRS}
            self._const_cache[term] = attrs
        known = self.resolve_const(term)
        return Value(
            *(pl.lit(attrs[a], DTYPES[a]) for a in VALUE_ATTRS),
            err=pl.lit(False),
            id=pl.lit(known, pl.UInt32),
        )

    # --- dispatch -------------------------------------------------------------------------
    def compile(self, expr: Expr) -> Value:
        if isinstance(expr, EVar):
            return self.var(expr.name)
        if isinstance(expr, EConst):
            return self.const(expr.term)
        assert isinstance(expr, ECall)
        op = expr.op
        if op in ("&&", "||"):
            return self.sink(self, self.logical(op, expr.args))
        if op == "IF":
            return self.sink(self, self.if_(expr.args))
        handler = _FUNCTIONS.get(op)
        if handler is None:
            raise InputError(f"unsupported function or operator {op} in {expr}")
        arity = _ARITY.get(op)
        if arity is not None and len(expr.args) not in arity:
            raise InputError(f"{op} takes {'/'.join(map(str, sorted(arity)))} argument(s), got {len(expr.args)} in {expr}")
        args = [self.compile(a) for a in expr.args]
        return self.sink(self, handler(self, args))

    def logical(self, op: str, exprs: tuple[Expr, ...]) -> Value:
        a, b = (ebv(self.compile(e)) for e in exprs)
        (av, ae), (bv, be) = a, b
        if op == "&&":
            # false if either side is a definite false; error if otherwise any error
            false_ = (~ae & ~av) | (~be & ~bv)
            err = ~false_ & (ae | be)
            return boolean(~false_ & ~err, err)
        true_ = (~ae & av) | (~be & bv)
        err = ~true_ & (ae | be)
        return boolean(true_, err)

    def if_(self, exprs: tuple[Expr, ...]) -> Value:
        if len(exprs) != 3:
            raise InputError("IF takes 3 arguments")
        cond, cerr = ebv(self.compile(exprs[0]))
        a, b = self.compile(exprs[1]), self.compile(exprs[2])
        pick = {f: pl.when(cond).then(getattr(a, f)).otherwise(getattr(b, f)) for f in (*VALUE_ATTRS, "err", "id")}
        pick["err"] = cerr | pick["err"]
        return Value(**pick)


def constant_fields(tclass: int | None) -> dict[str, pl.Expr]:
    """The value fields a type class fixes (so they are literals, not gathered columns)."""
    if tclass is None or tclass == TCLASS_OTHER:
        return {}
    none = {a: pl.lit(None, DTYPES[a]) for a in ("num", "time", "boolv", "lang", "dt")}
    if tclass == TCLASS_IRI:
        return {**none, "kind": pl.lit(KIND_IRI, pl.Int8), "ntype": pl.lit(0, pl.Int8)}
    if tclass == TCLASS_BLANK:
        return {**none, "kind": pl.lit(KIND_BLANK, pl.Int8), "ntype": pl.lit(0, pl.Int8)}
    fields = {**none, "kind": pl.lit(KIND_LITERAL, pl.Int8), "dt": pl.lit(TCLASS_DATATYPES[tclass])}
    rank = {5: 1, 6: 2, 7: 3, 8: 4}.get(tclass, 0)
    fields["ntype"] = pl.lit(rank, pl.Int8)
    if rank:
        del fields["num"]
    if tclass in (9, 10):
        del fields["time"]
    if tclass == 4:
        del fields["boolv"]
    if tclass == 3:
        del fields["lang"]
    return fields


class _LazyVarValue(Value):
    """A variable's value: attribute columns are read (and recorded) only when used."""

    def __init__(self, name: str, col: Callable[[str], pl.Expr]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_col", col)

    def __getattr__(self, attr: str) -> pl.Expr:
        if attr == "err":
            return pl.lit(False)
        if attr == "id":
            return pl.col(self._name)  # type: ignore[attr-defined]
        if attr in VALUE_ATTRS:
            return self._col(attr)  # type: ignore[attr-defined]
        raise AttributeError(attr)

    def with_err(self, err: pl.Expr) -> Value:
        return Value(*(getattr(self, a) for a in VALUE_ATTRS), err=err, id=self.id)


# --- value helpers -----------------------------------------------------------------------------


def is_stringlike(v: Value) -> pl.Expr:
    return (v.kind == KIND_LITERAL) & v.dt.is_in([XSD_STRING, RDF_LANGSTRING])


def ebv(v: Value) -> tuple[pl.Expr, pl.Expr]:
    """Effective boolean value: (value, error)."""
    val = (
        pl.when(v.dt == XSD_BOOLEAN).then(v.boolv)
        .when(v.ntype > 0).then((v.num != 0) & ~v.num.is_nan())
        .when(is_stringlike(v)).then(v.lex.str.len_chars() > 0)
    )
    err = v.err | val.is_null()
    return val.fill_null(False), err


def _compare(op: str, a: Value, b: Value) -> Value:
    both_num = (a.ntype > 0) & (b.ntype > 0)
    both_str = is_stringlike(a) & is_stringlike(b) & (a.lang.fill_null("") == b.lang.fill_null(""))
    both_time = a.time.is_not_null() & b.time.is_not_null()
    both_bool = (a.dt == XSD_BOOLEAN) & (b.dt == XSD_BOOLEAN) & a.boolv.is_not_null() & b.boolv.is_not_null()
    cmp = {
        "=": lambda x, y: x == y, "!=": lambda x, y: x != y, "<": lambda x, y: x < y,
        "<=": lambda x, y: x <= y, ">": lambda x, y: x > y, ">=": lambda x, y: x >= y,
    }[op]
    typed = (
        pl.when(both_num).then(cmp(a.num, b.num))
        .when(both_time).then(cmp(a.time, b.time))
        .when(both_str).then(cmp(a.lex, b.lex))
        .when(both_bool).then(cmp(a.boolv.cast(pl.Int8), b.boolv.cast(pl.Int8)))
    )
    comparable = both_num | both_time | both_str | both_bool
    if op in ("=", "!="):
        same_term = (
            (a.kind == b.kind) & (a.lex == b.lex)
            & (a.dt.fill_null("") == b.dt.fill_null("")) & (a.lang.fill_null("") == b.lang.fill_null(""))
        )
        result = pl.when(comparable).then(typed).otherwise(same_term if op == "=" else ~same_term)
        return boolean(result.fill_null(False), a.err | b.err)
    return boolean(typed.fill_null(False), a.err | b.err | ~comparable.fill_null(False))


def _arith(op: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        a, b = args
        ok = (a.ntype > 0) & (b.ntype > 0)
        ntype = pl.max_horizontal(a.ntype, b.ntype)
        if op == "+":
            num = a.num + b.num
        elif op == "-":
            num = a.num - b.num
        elif op == "*":
            num = a.num * b.num
        else:
            ntype = pl.when(ntype == 1).then(pl.lit(2, pl.Int8)).otherwise(ntype)
            zero = (b.num == 0) & (ntype <= 2)
            ok = ok & ~zero
            num = a.num / b.num
        return numeric(pl.when(ok).then(num), ntype, a.err | b.err | ~ok.fill_null(False))

    return run


def _neg(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    return numeric(pl.when(a.ntype > 0).then(-a.num), a.ntype, a.err | (a.ntype == 0))


def _not(_: Compiler, args: list[Value]) -> Value:
    val, err = ebv(args[0])
    return boolean(~val, err)


def _str(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    return plain_string(pl.when(a.kind != KIND_BLANK).then(a.lex), a.err | (a.kind == KIND_BLANK))


def _iri(c: Compiler, args: list[Value]) -> Value:
    (a,) = args
    text = a.lex
    has_scheme = text.str.contains(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
    resolved = text if c.base is None else pl.when(has_scheme).then(text).otherwise(_resolve(c.base, text))
    ok = (a.kind == KIND_IRI) | (is_stringlike(a) & a.lang.is_null())
    out = pl.when(a.kind == KIND_IRI).then(text).when(ok).then(resolved)
    return Value(
        kind=pl.lit(KIND_IRI, pl.Int8), lex=out, dt=_null("dt"), lang=_null("lang"), num=_null("num"),
        ntype=pl.lit(0, pl.Int8), time=_null("time"), boolv=_null("boolv"),
        err=a.err | ~ok.fill_null(False) | text.is_null(),
        id=pl.when(a.kind == KIND_IRI).then(a.id),
    )


def _resolve(base: str, ref: pl.Expr) -> pl.Expr:
    """RFC 3986 resolution of the common relative forms against a fixed base."""
    scheme_end = base.find("://")
    authority_end = base.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    root = base[:authority_end] if authority_end >= 0 else base
    no_frag = base.split("#", 1)[0]
    no_query = no_frag.split("?", 1)[0]
    directory = no_query[: no_query.rfind("/") + 1] if "/" in no_query[scheme_end + 3 :] else no_query + "/"
    return (
        pl.when(ref == "").then(pl.lit(no_frag))
        .when(ref.str.starts_with("#")).then(pl.lit(no_frag) + ref)
        .when(ref.str.starts_with("?")).then(pl.lit(no_query) + ref)
        .when(ref.str.starts_with("//")).then(pl.lit(base[: scheme_end + 1]) + ref)
        .when(ref.str.starts_with("/")).then(pl.lit(root) + ref)
        .otherwise(pl.lit(directory) + ref.str.replace_all(r"^(\./)+", ""))
    )


def _concat(_: Compiler, args: list[Value]) -> Value:
    if not args:
        return plain_string(pl.lit(""), pl.lit(False))
    ok = pl.lit(True)
    err = pl.lit(False)
    for a in args:
        ok = ok & is_stringlike(a)
        err = err | a.err
    lex = pl.concat_str([a.lex for a in args])
    return plain_string(pl.when(ok).then(lex), err | ~ok.fill_null(False))


def _hash(kind: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        ok = is_stringlike(a) & a.lex.is_not_null()
        return plain_string(_digest(kind, pl.when(ok).then(a.lex)), a.err | ~ok)

    return run


def _digest(kind: str, text: pl.Expr) -> pl.Expr:
    # polars-hash (imported above) registers the nchash/chash namespaces on every expression
    if kind == "MD5":
        return text.nchash.md5()
    if kind == "SHA1":
        return text.nchash.sha1()
    return {"SHA256": text.chash.sha2_256, "SHA384": text.chash.sha2_384, "SHA512": text.chash.sha2_512}[kind]()


def _strlen(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    ok = is_stringlike(a)
    return numeric(pl.when(ok).then(a.lex.str.len_chars().cast(pl.Float64)), pl.lit(1, pl.Int8), a.err | ~ok)


def _substr(_: Compiler, args: list[Value]) -> Value:
    s, start = args[0], args[1]
    ok = is_stringlike(s) & (start.ntype > 0)
    begin = (start.num.round(0) - 1)
    length = args[2].num.round(0) if len(args) == 3 else pl.lit(None, pl.Float64)
    end = begin + length if len(args) == 3 else pl.lit(None, pl.Float64)
    lo = pl.max_horizontal(begin, pl.lit(0.0))
    n = (end - lo).clip(lower_bound=0) if len(args) == 3 else pl.lit(None, pl.Float64)
    text = s.lex.str.slice(lo.cast(pl.Int64), n.cast(pl.Int64))
    err = s.err | start.err | ~ok
    if len(args) == 3:
        err = err | args[2].err | (args[2].ntype == 0)
    return literal_value(lex=pl.when(ok).then(text), dt=s.dt, lang=s.lang, err=err)


def _case(upper: bool) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        ok = is_stringlike(a)
        text = a.lex.str.to_uppercase() if upper else a.lex.str.to_lowercase()
        return literal_value(lex=pl.when(ok).then(text), dt=a.dt, lang=a.lang, err=a.err | ~ok)

    return run


def _strtest(kind: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        a, b = args
        ok = is_stringlike(a) & is_stringlike(b)
        if kind == "CONTAINS":
            res = a.lex.str.contains(b.lex, literal=True)
        elif kind == "STRSTARTS":
            res = a.lex.str.starts_with(b.lex)
        else:
            res = a.lex.str.ends_with(b.lex)
        return boolean(pl.when(ok).then(res), a.err | b.err | ~ok)

    return run


def _regex(_: Compiler, args: list[Value]) -> Value:
    a, pattern = args[0], args[1]
    flags = args[2].lex if len(args) == 3 else pl.lit("")
    ok = is_stringlike(a) & is_stringlike(pattern)
    full = pl.when(flags.str.contains("i")).then(pl.lit("(?i)") + pattern.lex).otherwise(pattern.lex)
    res = a.lex.str.contains(full)
    return boolean(pl.when(ok).then(res), a.err | pattern.err | ~ok)


def _lang(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    return plain_string(pl.when(a.kind == KIND_LITERAL).then(a.lang.fill_null("")), a.err | (a.kind != KIND_LITERAL))


def _datatype(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    out = pl.when(a.kind == KIND_LITERAL).then(a.dt)
    return Value(kind=pl.lit(KIND_IRI, pl.Int8), lex=out, dt=_null("dt"), lang=_null("lang"), num=_null("num"),
                 ntype=pl.lit(0, pl.Int8), time=_null("time"), boolv=_null("boolv"), err=a.err | out.is_null())


def _kind_test(test: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        res = {
            "ISIRI": a.kind == KIND_IRI, "ISURI": a.kind == KIND_IRI, "ISBLANK": a.kind == KIND_BLANK,
            "ISLITERAL": a.kind == KIND_LITERAL, "ISNUMERIC": a.ntype > 0,
        }[test]
        return boolean(res, a.err)

    return run


def _math(kind: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        num = {"ABS": a.num.abs(), "CEIL": a.num.ceil(), "FLOOR": a.num.floor(),
               "ROUND": (a.num + 0.5).floor()}[kind]
        return numeric(pl.when(a.ntype > 0).then(num), a.ntype, a.err | (a.ntype == 0))

    return run


# --- extension functions (XPath math namespace), kept apart from the SPARQL built-ins ---------
MATH_LOG = "<http://www.w3.org/2005/xpath-functions/math#log>"


def _math_log(_: Compiler, args: list[Value]) -> Value:
    """``math:log(x)``: natural logarithm as xsd:double; an error unless x is a number above 0
    (XPath gives -INF / NaN there; an error keeps such values out of rules)."""
    (a,) = args
    ok = (a.ntype > 0) & (a.num > 0)
    return numeric(pl.when(ok).then(a.num.log()), pl.lit(4, pl.Int8), a.err | ~ok.fill_null(False))


def _date_part(part: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        when = a.time.cast(pl.Datetime("us"))
        num = {"YEAR": when.dt.year(), "MONTH": when.dt.month(), "DAY": when.dt.day(),
               "HOURS": when.dt.hour(), "MINUTES": when.dt.minute()}.get(part)
        if part == "SECONDS":
            secs = when.dt.second().cast(pl.Float64) + when.dt.microsecond().cast(pl.Float64) / 1e6
            return numeric(secs, pl.lit(2, pl.Int8), a.err | a.time.is_null())
        assert num is not None
        return numeric(num.cast(pl.Float64), pl.lit(1, pl.Int8), a.err | a.time.is_null())

    return run


def _in(negate: bool) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        head, *options = args
        hit = pl.lit(False)
        err = head.err
        for o in options:
            eq = _compare("=", head, o)
            hit = hit | (eq.boolv & ~eq.err)
        return boolean(~hit if negate else hit, err)

    return run


def _cast(target: str) -> Callable[[Compiler, list[Value]], Value]:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        if target == XSD_STRING:
            return _str(_, args)
        if target in (XSD_INTEGER, XSD_DECIMAL, XSD_DOUBLE, XSD_FLOAT):
            rank = {XSD_INTEGER: 1, XSD_DECIMAL: 2, XSD_FLOAT: 3, XSD_DOUBLE: 4}[target]
            from_str = a.lex.str.strip_chars().cast(pl.Float64, strict=False)
            valid_int = a.lex.str.contains(r"^\s*[+-]?[0-9]+\s*$")
            valid_dec = a.lex.str.contains(r"^\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*$")
            parse_ok = valid_int if rank == 1 else (valid_dec if rank == 2 else from_str.is_not_null())
            num = (
                pl.when(a.ntype > 0).then(a.num.floor() if rank == 1 else a.num)
                .when(a.dt == XSD_BOOLEAN).then(a.boolv.cast(pl.Float64))
                .when(is_stringlike(a) & parse_ok).then(from_str)
            )
            return numeric(num, pl.lit(rank, pl.Int8), a.err)
        if target == XSD_BOOLEAN:
            val = (
                pl.when(a.dt == XSD_BOOLEAN).then(a.boolv)
                .when(a.ntype > 0).then(a.num != 0)
                .when(is_stringlike(a) & a.lex.is_in(["true", "1"])).then(True)
                .when(is_stringlike(a) & a.lex.is_in(["false", "0"])).then(False)
            )
            return boolean(val, a.err)
        if target == XSD_DATETIME:
            ok = (a.dt == XSD_DATETIME) | is_stringlike(a)
            t = time_expr(a.lex, pl.lit(XSD_DATETIME))
            return literal_value(lex=pl.when(ok & t.is_not_null()).then(a.lex), dt=pl.lit(XSD_DATETIME),
                                 time=t, err=a.err | ~ok | t.is_null())
        raise InputError(f"unsupported cast to <{target}>")

    return run


_FUNCTIONS: dict[str, Callable[[Compiler, list[Value]], Value]] = {
    **{op: (lambda op_: (lambda c, a: _compare(op_, a[0], a[1])))(op) for op in ("=", "!=", "<", "<=", ">", ">=")},
    **{op: _arith(op) for op in ("+", "-", "*", "/")},
    "NEG": _neg, "!": _not, "STR": _str, "IRI": _iri, "URI": _iri, "CONCAT": _concat,
    "MD5": _hash("MD5"), "SHA1": _hash("SHA1"), "SHA256": _hash("SHA256"),
    "SHA384": _hash("SHA384"), "SHA512": _hash("SHA512"),
    "STRLEN": _strlen, "SUBSTR": _substr, "UCASE": _case(True), "LCASE": _case(False),
    "CONTAINS": _strtest("CONTAINS"), "STRSTARTS": _strtest("STRSTARTS"), "STRENDS": _strtest("STRENDS"),
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
SUPPORTED_FUNCTIONS = frozenset(_FUNCTIONS) | {"&&", "||", "IF"}

del ntype_expr  # re-exported helpers are not part of this module's surface
