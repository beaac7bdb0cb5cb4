"""The SPARQL functions and operators of rule expressions, each written once.

Every function maps argument :class:`Value` s to a result :class:`Value` built from expression
nodes (:mod:`expr`); both executors compile the same trees. Errors follow SPARQL: ``FILTER``
drops a row whose condition errs, ``||``/``&&`` absorb an error when the other side decides, and a
``BIND`` that errs leaves no binding (the rule does not fire for that row).

Semantics worth knowing (the README's rule-language section lists them for users):

- numbers promote integer < decimal < float < double; integer and decimal results are exact
  (:mod:`exact`), doubles follow IEEE 754; an ill-typed numeral (``"12.5"^^xsd:int``) is no number;
- ``NaN`` compares false with everything (``NaN = NaN`` is false, ``NaN != NaN`` true);
- ``=`` between two literals that are not comparable is false, except that an ill-typed literal
  compared with a different term is an error, as SPARQL's RDFterm-equal says;
- IRIs are ordered by their code points (``FILTER(?x < ?y)``), as RDFox orders them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fincrime.engine.sparql.decode import ill_typed, parse_number, time_of
from fincrime.engine.sparql.exact import ARITH_HOSTS
from fincrime.engine.sparql.expr import (
    FALSE,
    TRUE,
    X,
    and_,
    arith,
    call,
    cast,
    cmp,
    coalesce,
    eq,
    host,
    is_in,
    is_null,
    lit,
    not_,
    not_null,
    null,
    or_,
    when,
)
from fincrime.engine.sparql.model import (
    ABSOLUTE_IRI,
    BOOL,
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    EXACT_LIMIT,
    F64,
    FIELD_TYPES,
    I64,
    KIND_BLANK,
    KIND_IRI,
    KIND_LITERAL,
    RANK_DECIMAL,
    RANK_DOUBLE,
    RANK_FLOAT,
    RANK_INTEGER,
    RANK_NONE,
    STR,
    TCLASS_DECIMAL,
    TCLASS_INTEGER,
    TERM,
    fixed_fields,
    term_fields,
)
from fincrime.engine.sparql.value import (
    FIELD_TYPES_ALL,
    SHORT_LENGTH,
    Value,
    boolean,
    ebv,
    iri_value,
    is_stringlike,
    kind_lit,
    literal_value,
    numeric,
    plain_string,
    rank_lit,
)
from fincrime.errors import InputError
from fincrime.rdf.terms import (
    XSD_BOOLEAN,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_FLOAT,
    XSD_INTEGER,
    XSD_STRING,
)
from fincrime.rules.ast import ECall, EConst, EVar, Expr
from fincrime.rules.builtins import CASTS, arity_error

Function = Callable[["Compiler", list[Value]], Value]
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


class Compiler:
    """Compiles one expression to a :class:`Value` of nodes.

    The backend supplies ``field(variable, attribute)`` (a node reading a variable's field: a
    column it adds on first use), ``term_ref(term)`` (its handle of a constant term, or a null
    node when the term is unknown to it) and ``sink`` (stores a function's result as columns and
    returns column nodes, so a sub-result used twice is computed once; identity by default).
    ``hints`` maps variables to their one type class in the frame, when known; ``statics`` to
    what is statically known of values an earlier BIND computed (:meth:`Value.static`).
    """

    def __init__(
        self,
        base: str | None,
        field: Callable[[str, str], X],
        term_ref: Callable[[str], X],
        sink: Callable[[Value], Value] | None = None,
        hints: dict[str, int] | None = None,
        statics: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.base = base
        self._field = field
        self._term_ref = term_ref
        self.sink = sink or (lambda v: v)
        self.hints = hints or {}
        self.statics = statics or {}

    # --- leaves ---------------------------------------------------------------------------
    def var(self, name: str) -> Value:
        value = _VarValue(name, self._field, self.hints.get(name))
        known = self.statics.get(name)
        if known:  # a BIND of this body computed it: what was known of its value still holds
            bounds = [b for b in (value.bound, known["bound"]) if b is not None]
            object.__setattr__(value, "bound", min(bounds) if bounds else None)
            object.__setattr__(value, "short", value.short or known["short"] or value.bound is not None)
        return value

    def const(self, term: str) -> Value:
        fields_ = term_fields(term)
        parts = {a: lit(v, FIELD_TYPES[a]) for a, v in fields_.items()}
        short = bool(fields_["ntype"]) and fields_["ntype"] <= RANK_DECIMAL and len(str(fields_["lex"])) <= SHORT_LENGTH
        bound = abs(fields_["num"]) + 1 if fields_["ntype"] == RANK_INTEGER and abs(fields_["num"]) < EXACT_LIMIT else None
        return Value(**parts, err=FALSE, term=self._term_ref(term), short=short, bound=bound, spelled=True)

    # --- dispatch -------------------------------------------------------------------------
    def compile(self, expr: Expr) -> Value:
        if isinstance(expr, EVar):
            return self.var(expr.name)
        if isinstance(expr, EConst):
            return self.const(expr.term)
        assert isinstance(expr, ECall)
        op = expr.op
        check_call(op, len(expr.args), expr)
        if op in ("&&", "||"):
            return self.sink(self.logical(op, expr.args))
        if op == "IF":
            return self.sink(self.if_(expr.args))
        args = [self.compile(a) for a in expr.args]
        return self.sink(FUNCTIONS[op](self, args))

    def logical(self, op: str, exprs: tuple[Expr, ...]) -> Value:
        (av, ae), (bv, be) = (ebv(self.compile(e)) for e in exprs)
        if op == "&&":  # false if either side is a definite false; otherwise an error if any
            false_ = or_(and_(not_(ae), not_(av)), and_(not_(be), not_(bv)))
            err = and_(not_(false_), or_(ae, be))
            return boolean(and_(not_(false_), not_(err)), err)
        true_ = or_(and_(not_(ae), av), and_(not_(be), bv))
        err = and_(not_(true_), or_(ae, be))
        return boolean(true_, err)

    def if_(self, exprs: tuple[Expr, ...]) -> Value:
        cond, cerr = ebv(self.compile(exprs[0]))
        a, b = self.compile(exprs[1]), self.compile(exprs[2])
        pick = {f: when([(cond, getattr(a, f))], getattr(b, f), FIELD_TYPES_ALL[f]) for f in FIELD_TYPES_ALL}
        pick["err"] = or_(cerr, pick["err"])
        bound = max(a.bound, b.bound) if a.bound is not None and b.bound is not None else None
        return Value(**pick, short=a.short and b.short, bound=bound, spelled=a.spelled and b.spelled)


def check_call(op: str, arity: int, where: object) -> None:
    """An unknown function or a wrong number of arguments is an input error (the parser
    reports both with file, line and column; this guards programs built otherwise)."""
    if op not in SUPPORTED_FUNCTIONS:
        raise InputError(f"unsupported function or operator {op} in {where}")
    problem = None if op in CASTS else arity_error(op, arity)
    if op in CASTS and arity != 1:
        problem = f"{op} takes one argument, got {arity}"
    if problem:
        raise InputError(f"{problem} in {where}")


class _VarValue(Value):
    """A variable's value: a field's node is asked for (and so its column added) only when read."""

    def __init__(self, name: str, field: Callable[[str, str], X], tclass: int | None) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_read", field)
        object.__setattr__(self, "_fixed", {a: lit(v, FIELD_TYPES[a]) for a, v in fixed_fields(tclass).items()})
        object.__setattr__(self, "short", tclass in (TCLASS_INTEGER, TCLASS_DECIMAL))
        object.__setattr__(self, "bound", 1e15 if tclass == TCLASS_INTEGER else None)
        object.__setattr__(self, "spelled", True)

    def __getattr__(self, attr: str) -> X:
        if attr == "err":
            return FALSE
        if attr in FIELD_TYPES or attr == "term":
            fixed = self._fixed.get(attr)  # type: ignore[attr-defined]
            return fixed if fixed is not None else self._read(self._name, attr)  # type: ignore[attr-defined]
        raise AttributeError(attr)


# --- comparison -------------------------------------------------------------------------------


def _is_num(v: Value) -> X:
    return cmp(">", v.ntype, rank_lit(RANK_NONE))


def short_number(v: Value) -> X:
    """Whether the double of an integer or decimal is faithful to it (see :mod:`value`)."""
    if v.short:
        return TRUE
    exact_kind = and_(_is_num(v), cmp("<=", v.ntype, rank_lit(RANK_DECIMAL)))
    return and_(exact_kind, when([(not_null(v.lex), cmp("<=", call("length", v.lex), lit(SHORT_LENGTH)))],
                                 cmp("<", call("abs", v.num), lit(1e15)), BOOL))


def _exact_args(a: Value, b: Value, gate: X) -> tuple[X, ...]:
    return (when([(gate, a.ntype)], type_=I64), a.lex, a.num, b.ntype, b.lex, b.num)


def _numbers_cmp(op: str, a: Value, b: Value) -> X:
    """A numeric comparison: NaN is unordered; integers and decimals whose doubles tie but may
    differ are compared exactly."""
    plain = cmp(op, a.num, b.num)
    nan = or_(call("is_nan", a.num), call("is_nan", b.num))
    both_exact = and_(cmp("<=", a.ntype, rank_lit(RANK_DECIMAL)), cmp("<=", b.ntype, rank_lit(RANK_DECIMAL)))
    tie = and_(both_exact, eq(a.num, b.num), not_(and_(short_number(a), short_number(b))))
    if tie.const is not False:
        order = host("exact_compare", *_exact_args(a, b, tie), type_=I64)
        plain = when([(tie, cmp(op, order, lit(0)))], plain, BOOL)
    return when([(nan, lit(op == "!="))], plain, BOOL)


def compare(op: str, a: Value, b: Value) -> Value:
    both_num = and_(_is_num(a), _is_num(b))
    both_str = and_(is_stringlike(a), is_stringlike(b), eq(coalesce(a.lang, lit("")), coalesce(b.lang, lit(""))))
    both_time = and_(not_null(a.time), not_null(b.time))
    both_bool = and_(eq(a.dt, lit(XSD_BOOLEAN)), eq(b.dt, lit(XSD_BOOLEAN)), not_null(a.boolv), not_null(b.boolv))
    both_iri = and_(eq(a.kind, kind_lit(KIND_IRI)), eq(b.kind, kind_lit(KIND_IRI)))
    typed = when([
        (both_num, _numbers_cmp(op, a, b)), (both_time, cmp(op, a.time, b.time)),
        (both_str, cmp(op, a.lex, b.lex)), (both_bool, cmp(op, cast(a.boolv, I64), cast(b.boolv, I64))),
        (both_iri, cmp(op, a.lex, b.lex)),
    ], type_=BOOL)
    comparable = or_(both_num, both_time, both_str, both_bool, both_iri)
    if op in ("=", "!="):
        same = same_term(a, b)
        result = when([(comparable, typed)], same if op == "=" else not_(same), BOOL)
        # RDFterm-equal: two literals that are not the same term and not comparable are an error
        # when either is ill-typed (a literal of a known datatype outside its lexical space)
        unknown = and_(not_(comparable), not_(same), or_(ill_typed(a), ill_typed(b)))
        return boolean(coalesce(result, FALSE), or_(a.err, b.err, unknown))
    return boolean(coalesce(typed, FALSE), or_(a.err, b.err, not_(coalesce(comparable, FALSE))))


def same_term(a: Value, b: Value) -> X:
    return and_(
        eq(a.kind, b.kind), eq(a.lex, b.lex),
        eq(coalesce(a.dt, lit("")), coalesce(b.dt, lit(""))),
        eq(coalesce(a.lang, lit("")), coalesce(b.lang, lit(""))),
    )


# --- arithmetic -------------------------------------------------------------------------------


def promoted(a: Value, b: Value, op: str) -> X:
    if a.ntype.is_const and b.ntype.is_const and a.ntype.const is not None and b.ntype.const is not None:
        rank = max(a.ntype.const, b.ntype.const)
        return rank_lit(RANK_DECIMAL if op == "/" and rank == RANK_INTEGER else rank)
    rank = call("greatest", a.ntype, b.ntype, type_=FIELD_TYPES["ntype"])
    return when([(eq(rank, rank_lit(RANK_INTEGER)), rank_lit(RANK_DECIMAL))], rank, FIELD_TYPES["ntype"]) if op == "/" else rank


def _below(x: X, limit: float) -> X:
    return cmp("<", call("abs", x), lit(limit))


def _bound(op: str, a: Value, b: Value) -> float | None:
    """A static bound on the magnitude of a whole-number result, when both operands have one."""
    if a.bound is None or b.bound is None:
        return None
    return a.bound * b.bound if op == "*" else a.bound + b.bound


def _exact_quotient(a: Value, b: Value) -> bool:
    """Whether ``a / b`` is statically exact as a double and spelled right from it: a bounded
    whole number over a constant 2**i * 5**j, so the quotient has at most 15 digits."""
    divisor = b.num.const if b.num.is_const else None
    if a.bound is None or not isinstance(divisor, float) or divisor <= 0 or divisor != int(divisor):
        return False
    rest, digits = int(divisor), 0
    for p in (2, 5):
        while rest % p == 0:
            rest //= p
            digits += 1
    return rest == 1 and a.bound * 10.0**digits < 1e15


def _arith(op: str) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        a, b = args
        ok = and_(_is_num(a), _is_num(b))
        rank = promoted(a, b, op)
        bound = _bound(op, a, b) if op != "/" else None
        if op == "/":
            # IEEE division (x/0 is an infinity or NaN) for doubles; integers and decimals exactly
            fast = when([(eq(b.num, lit(0.0)), when([
                (cmp(">", a.num, lit(0.0)), lit(float("inf"))), (cmp("<", a.num, lit(0.0)), lit(float("-inf"))),
            ], lit(float("nan")), F64))], arith("/", a.num, b.num), F64)
            static_fast = _exact_quotient(a, b)
            exact_ok = FALSE
        else:
            fast = arith(op, a.num, b.num)
            # whole numbers whose result is known to stay below 2**53 are exact as doubles
            static_fast = bound is not None and bound < EXACT_LIMIT
            exact_ok = and_(_below(a.num, EXACT_LIMIT), _below(b.num, EXACT_LIMIT), _below(fast, EXACT_LIMIT))
        need = FALSE if static_fast else and_(
            ok, cmp("<=", rank, rank_lit(RANK_DECIMAL)), not_(and_(eq(rank, rank_lit(RANK_INTEGER)), exact_ok)))
        err = or_(a.err, b.err, not_(coalesce(ok, FALSE)))
        if need.const is False:
            return numeric(when([(ok, fast)], type_=F64), rank, err, short=op == "/" and static_fast,
                           bound=bound if bound is not None and bound < EXACT_LIMIT else None)
        exact = host(ARITH_HOSTS[op], *_exact_args(a, b, need))
        num = when([(need, parse_number(exact, rank)), (ok, fast)], type_=F64)
        return numeric(num, rank, or_(err, and_(need, is_null(exact))), lex=when([(need, exact)]))

    return run


def _neg(_: Compiler, args: list[Value]) -> Value:
    return _unary("NEG", args[0], call("neg", args[0].num))


def _math(kind: str) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        num = {"ABS": lambda: call("abs", a.num), "CEIL": lambda: call("ceil", a.num),
               "FLOOR": lambda: call("floor", a.num),
               "ROUND": lambda: call("floor", arith("+", a.num, lit(0.5)))}[kind]()
        return _unary(kind, a, num)

    return run


def _unary(kind: str, a: Value, fast: X) -> Value:
    """A one-argument numeric function: the double path where it is exact, else :mod:`exact`."""
    ok = _is_num(a)
    err = or_(a.err, not_(coalesce(ok, FALSE)))
    need = and_(ok, cmp("<=", a.ntype, rank_lit(RANK_DECIMAL)), not_(short_number(a)))
    if need.const is False:
        bound = a.bound
        if kind in ("CEIL", "FLOOR", "ROUND") and bound is None and a.short:
            bound = 1e15  # a short number has at most 15 digits
        if bound is not None and kind in ("CEIL", "FLOOR", "ROUND"):
            bound += 1
        return numeric(when([(ok, fast)], type_=F64), a.ntype, err, short=a.short, bound=bound)
    exact = host(f"exact_{kind.lower()}", when([(need, a.ntype)], type_=I64), a.lex, a.num)
    num = when([(need, parse_number(exact, a.ntype)), (ok, fast)], type_=F64)
    return numeric(num, a.ntype, or_(err, and_(need, is_null(exact))), lex=when([(need, exact)]))


# --- terms and strings ----------------------------------------------------------------------


def _not(_: Compiler, args: list[Value]) -> Value:
    val, err = ebv(args[0])
    return boolean(not_(val), err)


def _str(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    blank = eq(a.kind, kind_lit(KIND_BLANK))
    return plain_string(when([(not_(blank), lexical(a))]), or_(a.err, blank))


def lexical(v: Value) -> X:
    """The lexical form of a value, computed numbers included (spelled canonically)."""
    return v.lex if v.spelled else coalesce(v.lex, number_lex(v.ntype, v.num))


def number_lex(ntype: X, num: X) -> X:
    """The canonical lexical form of a computed number held as a double (null if not a number)."""
    if ntype.is_const and ntype.const == RANK_NONE:
        return null(STR)
    fractional = host("number_lex", when([(cmp(">", ntype, rank_lit(RANK_INTEGER)), ntype)], type_=I64), num)
    return when([(eq(ntype, rank_lit(RANK_INTEGER)), call("int_str", num)), (cmp(">", ntype, rank_lit(RANK_INTEGER)), fractional)])


def spell(v: Value) -> X:
    """The canonical N-Triples string of a value (for rows that are not errors)."""
    lexv = lexical(v)
    escaped = lexv
    for old, new in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
        escaped = call("replace", escaped, param=(old, new))
    suffix = when([
        (and_(not_null(v.lang), not_(eq(v.lang, lit("")))), call("concat", lit("@"), v.lang)),
        (or_(is_null(v.dt), eq(v.dt, lit(XSD_STRING))), lit("")),
    ], call("concat", lit("^^<"), v.dt, lit(">")))
    return when([
        (eq(v.kind, kind_lit(KIND_IRI)), call("concat", lit("<"), v.lex, lit(">"))),
        (eq(v.kind, kind_lit(KIND_BLANK)), call("concat", lit("_:"), v.lex)),
        (eq(v.kind, kind_lit(KIND_LITERAL)), call("concat", lit('"'), escaped, lit('"'), suffix)),
    ])


def _skolem(_: Compiler, args: list[Value]) -> Value:
    """RDFox's SKOLEM: a blank node determined by the argument terms (the same in every run and
    on both executors): ``_:sk`` and 32 hex digits of a SHA-256 over the length-prefixed
    canonical strings of the arguments."""
    parts: list[X] = []
    for a in args:
        term = spell(a)
        parts += [cast(call("length", term, type_=I64), STR), lit(":"), term]
    digest = call("digest", call("concat", *parts), param="SHA256")
    label = call("concat", lit("sk"), call("substr", digest, lit(0), lit(32)))
    value = iri_value(label, or_(*[a.err for a in args]))
    value.kind = kind_lit(KIND_BLANK)
    return value


def _iri(c: Compiler, args: list[Value]) -> Value:
    (a,) = args
    text = a.lex
    is_iri = eq(a.kind, kind_lit(KIND_IRI))
    has_scheme = call("matches", text, param=ABSOLUTE_IRI, type_=BOOL)
    resolved = text if c.base is None else when([(has_scheme, text)], _resolve(c.base, text))
    ok = or_(is_iri, and_(is_stringlike(a), is_null(a.lang)))
    out = when([(is_iri, text), (ok, resolved)])
    err = or_(a.err, not_(coalesce(ok, FALSE)), is_null(text))
    return iri_value(out, err, term=when([(is_iri, a.term)], type_=TERM))


def _resolve(base: str, ref: X) -> X:
    """RFC 3986 resolution of the common relative forms against a fixed base."""
    scheme_end = base.find("://")
    authority_end = base.find("/", scheme_end + 3) if scheme_end >= 0 else -1
    root = base[:authority_end] if authority_end >= 0 else base
    no_frag = base.split("#", 1)[0]
    no_query = no_frag.split("?", 1)[0]
    directory = no_query[: no_query.rfind("/") + 1] if "/" in no_query[scheme_end + 3 :] else no_query + "/"
    starts = lambda prefix: call("starts_with", ref, lit(prefix), type_=BOOL)  # noqa: E731
    concat = lambda prefix, x: call("concat", lit(prefix), x)  # noqa: E731
    return when([
        (eq(ref, lit("")), lit(no_frag)),
        (starts("#"), concat(no_frag, ref)),
        (starts("?"), concat(no_query, ref)),
        (starts("//"), concat(base[: scheme_end + 1], ref)),
        (starts("/"), concat(root, ref)),
    ], concat(directory, call("replace_re", ref, param=(r"^(\./)+", ""))))


def _concat(_: Compiler, args: list[Value]) -> Value:
    if not args:
        return plain_string(lit(""), FALSE)
    ok = and_(*[is_stringlike(a) for a in args])
    err = or_(*[a.err for a in args])
    return plain_string(when([(ok, call("concat", *[a.lex for a in args]))]), or_(err, not_(coalesce(ok, FALSE))))


def _hash(kind: str) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        ok = and_(is_stringlike(a), not_null(a.lex))
        digest = call("digest", when([(ok, a.lex)]), param=kind)
        return plain_string(digest, or_(a.err, not_(coalesce(ok, FALSE))))

    return run


def _strlen(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    ok = is_stringlike(a)
    length = cast(call("length", a.lex, type_=I64), F64)
    return numeric(when([(ok, length)], type_=F64), rank_lit(RANK_INTEGER), or_(a.err, not_(ok)), bound=2.0**31)


def _round_half_up(x: X) -> X:
    return call("floor", arith("+", x, lit(0.5)))


def _substr(_: Compiler, args: list[Value]) -> Value:
    s, start = args[0], args[1]
    ok = and_(is_stringlike(s), _is_num(start))
    begin = arith("-", _round_half_up(start.num), lit(1.0))  # SPARQL positions count from 1
    lo = call("greatest", begin, lit(0.0), type_=F64)
    err = or_(s.err, start.err, not_(ok))
    if len(args) == 3:
        end = arith("+", begin, _round_half_up(args[2].num))
        count = cast(call("greatest", arith("-", end, lo), lit(0.0), type_=F64), I64)
        err = or_(err, args[2].err, not_(_is_num(args[2])))
    else:
        count = null(I64)
    text = call("substr", s.lex, cast(lo, I64), count)
    return literal_value(lex=when([(ok, text)]), dt=s.dt, lang=s.lang, err=err)


def _case(upper: bool) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        ok = is_stringlike(a)
        text = call("upper" if upper else "lower", a.lex)
        return literal_value(lex=when([(ok, text)]), dt=a.dt, lang=a.lang, err=or_(a.err, not_(ok)))

    return run


def _strtest(kind: str) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        a, b = args
        ok = and_(is_stringlike(a), is_stringlike(b))
        op = {"CONTAINS": "contains", "STRSTARTS": "starts_with", "STRENDS": "ends_with"}[kind]
        return boolean(when([(ok, call(op, a.lex, b.lex, type_=BOOL))], type_=BOOL), or_(a.err, b.err, not_(ok)))

    return run


def _regex(_: Compiler, args: list[Value]) -> Value:
    a, pattern = args[0], args[1]
    flags = args[2].lex if len(args) == 3 else lit("")
    ok = and_(is_stringlike(a), is_stringlike(pattern))
    insensitive = call("contains", flags, lit("i"), type_=BOOL)
    full = when([(insensitive, call("concat", lit("(?i)"), pattern.lex))], pattern.lex)
    matched = call("regex", a.lex, full, type_=BOOL)
    return boolean(when([(ok, matched)], type_=BOOL), or_(a.err, pattern.err, not_(ok)))


def _lang(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    is_lit = eq(a.kind, kind_lit(KIND_LITERAL))
    return plain_string(when([(is_lit, coalesce(a.lang, lit("")))]), or_(a.err, not_(is_lit)))


def _datatype(_: Compiler, args: list[Value]) -> Value:
    (a,) = args
    out = when([(eq(a.kind, kind_lit(KIND_LITERAL)), a.dt)])
    return iri_value(out, or_(a.err, is_null(out)))


def _kind_test(test: str) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        res = {
            "ISIRI": lambda: eq(a.kind, kind_lit(KIND_IRI)), "ISURI": lambda: eq(a.kind, kind_lit(KIND_IRI)),
            "ISBLANK": lambda: eq(a.kind, kind_lit(KIND_BLANK)),
            "ISLITERAL": lambda: eq(a.kind, kind_lit(KIND_LITERAL)),
            "ISNUMERIC": lambda: _is_num(a),
        }[test]()
        return boolean(res, a.err)

    return run


MATH_LOG = "<http://www.w3.org/2005/xpath-functions/math#log>"


def _math_log(_: Compiler, args: list[Value]) -> Value:
    """``math:log(x)`` (XPath math namespace): the natural logarithm, an xsd:double; an error
    unless x is a number above 0 (XPath gives -INF / NaN there; an error keeps them out of rules)."""
    (a,) = args
    ok = and_(_is_num(a), cmp(">", a.num, lit(0.0)))
    return numeric(when([(ok, call("ln", a.num, type_=F64))], type_=F64), rank_lit(RANK_DOUBLE),
                   or_(a.err, not_(coalesce(ok, FALSE))))


_PART_BOUNDS = {"YEAR": 1e6, "MONTH": 13.0, "DAY": 32.0, "HOURS": 25.0, "MINUTES": 61.0}


def _date_part(part: str) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        (a,) = args
        missing = or_(a.err, is_null(a.time))
        if part == "SECONDS":
            micros = cast(call("date_part", a.time, param="micros_of_minute", type_=I64), F64)
            return numeric(arith("/", micros, lit(1e6)), rank_lit(RANK_DECIMAL), missing)
        number = cast(call("date_part", a.time, param=part.lower(), type_=I64), F64)
        return numeric(number, rank_lit(RANK_INTEGER), missing, bound=_PART_BOUNDS[part])

    return run


def _in(negate: bool) -> Function:
    def run(_: Compiler, args: list[Value]) -> Value:
        head, *options = args
        hits = []
        for o in options:
            same = compare("=", head, o)
            hits.append(and_(same.boolv, not_(same.err)))
        hit = or_(*hits) if hits else FALSE
        return boolean(not_(hit) if negate else hit, head.err)

    return run


_CAST_RANKS = {XSD_INTEGER: RANK_INTEGER, XSD_DECIMAL: RANK_DECIMAL, XSD_FLOAT: RANK_FLOAT, XSD_DOUBLE: RANK_DOUBLE}


def _cast(target: str) -> Function:
    def run(c: Compiler, args: list[Value]) -> Value:
        (a,) = args
        if target == XSD_STRING:
            return _str(c, args)
        if target in _CAST_RANKS:
            return _cast_number(a, _CAST_RANKS[target])
        if target == XSD_BOOLEAN:
            val = when([
                (eq(a.dt, lit(XSD_BOOLEAN)), a.boolv),
                (_is_num(a), and_(cmp("!=", a.num, lit(0.0)), not_(call("is_nan", a.num)))),
                (and_(is_stringlike(a), is_in(a.lex, list(BOOLEAN_TRUE))), TRUE),
                (and_(is_stringlike(a), is_in(a.lex, list(BOOLEAN_FALSE))), FALSE),
            ], type_=BOOL)
            return boolean(val, a.err)
        if target == XSD_DATETIME:
            ok = or_(eq(a.dt, lit(XSD_DATETIME)), is_stringlike(a))
            t = time_of(a.lex, lit(XSD_DATETIME))
            return literal_value(lex=when([(and_(ok, not_null(t)), a.lex)]), dt=lit(XSD_DATETIME), time=t,
                                 err=or_(a.err, not_(ok), is_null(t)))
        raise InputError(f"unsupported cast to <{target}>")

    return run


def _cast_number(a: Value, rank: int) -> Value:
    """xsd:integer / xsd:decimal (exact, :func:`exact.cast_number`), xsd:float / xsd:double."""
    is_bool = and_(eq(a.dt, lit(XSD_BOOLEAN)), not_null(a.boolv))
    stringlike = is_stringlike(a)
    if rank <= RANK_DECIMAL:
        source = when([(_is_num(a), a.ntype), (is_bool, rank_lit(RANK_NONE)), (stringlike, rank_lit(RANK_NONE))], type_=I64)
        text = when([(is_bool, when([(a.boolv, lit("1"))], lit("0")))], a.lex)
        exact = host("cast_number", when([(not_null(source), rank_lit(rank))], type_=I64), source, text, a.num)
        return numeric(parse_number(exact, rank_lit(rank)), rank_lit(rank), or_(a.err, is_null(exact)), lex=exact)
    from_str = parse_number(call("trim", a.lex), rank_lit(rank), strict=True)
    num = when([
        (_is_num(a), a.num), (is_bool, cast(a.boolv, F64)), (stringlike, from_str),
    ], type_=F64)
    return numeric(num, rank_lit(rank), a.err)


FUNCTIONS: dict[str, Function] = {
    **{op: (lambda op_: (lambda c, a: compare(op_, a[0], a[1])))(op) for op in COMPARISONS},
    **{op: _arith(op) for op in ("+", "-", "*", "/")},
    "NEG": _neg, "!": _not, "STR": _str, "IRI": _iri, "URI": _iri, "CONCAT": _concat, "SKOLEM": _skolem,
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
SUPPORTED_FUNCTIONS = frozenset(FUNCTIONS) | {"&&", "||", "IF"}

__all__ = ["FUNCTIONS", "SUPPORTED_FUNCTIONS", "Compiler", "Value", "check_call", "compare", "ebv", "lexical"]
