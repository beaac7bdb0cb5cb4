"""Aggregates (``AGGREGATE(... ON ?g BIND F(?x) AS ?v)``), written once for both executors.

The functions are SPARQL's (COUNT, SUM, AVG, MIN, MAX, SAMPLE, GROUP_CONCAT) and RDFox's
additions: ``MUL`` (the product), ``COUNT_MIN(?x)`` / ``COUNT_MAX(?x)`` (how many answers have the
group's least / greatest ``?x``) and the ``F_ARGMIN(?x, ?y)`` / ``F_ARGMAX(?x, ?y)`` forms (``F`` of
``?x`` over the answers whose ``?y`` is the group's least / greatest; e.g. ``MIN_ARGMAX(?name,
?amount)`` is the first name, in value order, among the answers with the largest amount).

Every result is defined independently of the order rows arrive in, so both executors agree byte
for byte: an aggregate sees each distinct body answer once; MIN, MAX and SAMPLE pick by the value
order (blank nodes < IRIs < numbers < date-times < other literals; numbers by value with NaN last,
then by lexical form, datatype and language, so the pick is one term); SAMPLE is MIN;
GROUP_CONCAT joins the lexical forms in code point order (SPARQL leaves the order unspecified);
SUM and AVG are exact for integers and decimals and correctly rounded for doubles; DISTINCT
removes duplicate terms (not values) first.
"""

from __future__ import annotations

from dataclasses import dataclass

from fincrime.engine.sparql.decode import parse_number
from fincrime.engine.sparql.evaluate import Backend, Frame, Scratch
from fincrime.engine.sparql.expr import (
    FALSE,
    TRUE,
    X,
    and_,
    call,
    cast,
    cmp,
    coalesce,
    col,
    eq,
    host,
    is_null,
    lit,
    not_,
    not_null,
    null,
    or_,
    when,
)
from fincrime.engine.sparql.functions import Compiler, lexical
from fincrime.engine.sparql.model import (
    BOOL,
    EXACT_LIMIT,
    F64,
    I64,
    INT,
    KIND_BLANK,
    KIND_IRI,
    RANK_DECIMAL,
    RANK_INTEGER,
    RANK_NONE,
    STR,
    TERM,
)
from fincrime.engine.sparql.value import Value, kind_lit, numeric, plain_string, rank_lit
from fincrime.errors import InputError
from fincrime.rules.ast import AggBind, EVar, expr_vars
from fincrime.rules.builtins import aggregate_error

BASE_FUNCTIONS = ("COUNT", "SUM", "MUL", "AVG", "MIN", "MAX", "SAMPLE", "GROUP_CONCAT")
_OUTPUT_TERM = ("MIN", "MAX", "SAMPLE")  # these return one of the input terms as it is


@dataclass(frozen=True)
class AggregateFunction:
    base: str  # one of BASE_FUNCTIONS
    select: str | None = None  # "min" / "max": only the answers where the selector is extreme
    selector_is_argument: bool = False  # COUNT_MIN / COUNT_MAX select on the counted value itself


def aggregate_function(name: str) -> AggregateFunction | None:
    """The meaning of an aggregate function name (None: unknown)."""
    name = name.upper()
    if name in BASE_FUNCTIONS:
        return AggregateFunction(name)
    if name in ("COUNT_MIN", "COUNT_MAX"):
        return AggregateFunction("COUNT", name[-3:].lower(), True)
    for suffix in ("_ARGMIN", "_ARGMAX"):
        if name.endswith(suffix) and name[: -len(suffix)] in BASE_FUNCTIONS:
            return AggregateFunction(name[: -len(suffix)], suffix[-3:].lower())
    return None


def check_aggregate(func: str, args: int, where: object) -> AggregateFunction:
    """The aggregate a bind names, or a clear error (the parser reports the same with the
    file, line and column; this guards programs built otherwise)."""
    meaning = aggregate_function(func)
    problem = aggregate_error(func.upper(), args)
    if meaning is None or problem:
        raise InputError(f"{problem or f'unknown aggregate function {func}'} in {where}")
    return meaning


def aggregate(backend: Backend, rows: Frame, group: list[str], binds: tuple[AggBind, ...],
              base: str | None) -> Frame:
    """One row per group with the value of every bind (a group where one errs is dropped)."""
    rows = backend.distinct(rows)  # aggregates see each distinct body answer once
    meanings = [check_aggregate(b.func, len(b.args), b.func) for b in binds]
    scratch = Scratch(backend, rows)
    members = [_members(scratch, b, m, i, base) for i, (b, m) in enumerate(zip(binds, meanings, strict=True))]
    rows = scratch.ready()
    plain: dict[str, X] = {}
    parts: list[Frame] = []
    for i, (b, m) in enumerate(zip(binds, meanings, strict=True)):
        if b.distinct or m.select is not None:
            sub = _restricted(backend, rows, group, members[i], b, m)
            parts.append(backend.group(sub, group, _aggregates(members[i], b, m)))
        else:
            plain.update(_aggregates(members[i], b, m))
    if plain or not parts:
        parts.insert(0, backend.group(rows, group, plain))
    grouped = parts[0]
    for part in parts[1:]:
        grouped = backend.join(grouped, part, group)
    out = Scratch(backend, grouped)
    for b, m, cols in zip(binds, meanings, members, strict=True):
        value = _result(b, m, cols)
        if m.base in _OUTPUT_TERM:
            out.add({b.var: col(cols["pick"], TERM)})
        else:
            backend.encode(out, value, b.var)
    final = backend.carry(out.ready())
    keep = [c for c in backend.columns(final) if c in group or c in {b.var for b in binds} or c.startswith("__")]
    final = backend.select(final, keep)
    return backend.filter(final, and_(*[not_null(col(b.var, TERM)) for b in binds]))


def _members(scratch: Scratch, b: AggBind, m: AggregateFunction, i: int, base: str | None) -> dict[str, str]:
    """Add the per-answer columns a bind aggregates; returns their names by role."""
    prefix = f"__a{i}"
    names: dict[str, str] = {}
    args = list(b.args)
    if not args:
        return names
    values = _compile(scratch, args, base)
    value = values[0]
    columns: dict[str, X] = {"e": value.err}
    if m.base in ("SUM", "AVG", "MUL"):
        columns.update(r=value.ntype, n=value.num, x=when(
            [(cmp("<=", value.ntype, rank_lit(RANK_DECIMAL)), lexical(value))], call("num_str", value.num), STR))
    elif m.base in _OUTPUT_TERM or m.selector_is_argument:
        columns.update(_order_fields(value))
    elif m.base == "GROUP_CONCAT":
        columns["l"] = lexical(value)
    if m.select is not None and not m.selector_is_argument:
        selector = values[-1]
        columns.update({"oe": selector.err, **{f"o{k}": v for k, v in _order_fields(selector).items()}})
    names = {role: f"{prefix}{role}" for role in columns}
    scratch.add({names[r]: x for r, x in columns.items()})
    names["t"] = f"{prefix}t"
    if isinstance(args[0], EVar):
        scratch.add({names["t"]: scratch.backend.field(scratch, args[0].name, "term")})
    else:
        scratch.backend.encode(scratch, value, names["t"])
    return names


def _compile(scratch: Scratch, args: list, base: str | None) -> list[Value]:  # type: ignore[type-arg]
    variables = set().union(*(expr_vars(a) for a in args))
    compiler: Compiler = scratch.compiler(base, variables)
    return [compiler.compile(a) for a in args]


def _order_fields(v: Value) -> dict[str, X]:
    return {"k": v.kind, "n": v.num, "r": v.ntype, "l": lexical(v), "m": v.time, "d": v.dt, "g": v.lang}


def _order_keys(cols: dict[str, str], prefix: str = "") -> list[X]:
    """The value order of MIN / MAX: kind of term first, then value, then spelling."""
    kind, rank, time = col(cols[prefix + "k"], INT), col(cols[prefix + "r"], INT), col(cols[prefix + "m"], I64)
    num = col(cols[prefix + "n"], F64)
    group = when([
        (eq(kind, kind_lit(KIND_BLANK)), lit(0)), (eq(kind, kind_lit(KIND_IRI)), lit(1)),
        (cmp(">", rank, rank_lit(RANK_NONE)), lit(2)), (not_null(time), lit(3)),
    ], lit(4), I64)
    nan = coalesce(call("is_nan", num, type_=BOOL), FALSE)
    return [group, nan, num, time, *(col(cols[prefix + r], STR) for r in ("l", "d", "g"))]


def _restricted(backend: Backend, rows: Frame, group: list[str], cols: dict[str, str], b: AggBind,
                m: AggregateFunction) -> Frame:
    """The answers a DISTINCT or ARGMIN/ARGMAX bind aggregates over."""
    sub = rows  # each answer once; DISTINCT: each distinct member term once
    if b.distinct:
        sub = backend.distinct(backend.select(rows, [*group, *sorted(set(cols.values()))]))
    if m.select is None:
        return sub
    prefix = "" if m.selector_is_argument else "o"
    ok = not_(col(cols[prefix + "e"] if prefix else cols["e"], BOOL))
    keys = _order_keys(cols, prefix)
    names = [f"__sel{j}" for j in range(len(keys))]
    sub = backend.add_columns(sub, dict(zip(names, keys, strict=True)))
    extreme = backend.group(sub, group, {
        f"{n}_x": call("agg_first", when([(ok, col(n))], type_=keys[j].type or STR), *[
            when([(ok, k)], type_=k.type or STR) for k in keys], param=m.select == "max")
        for j, n in enumerate(names)
    })
    sub = backend.join(sub, extreme, group)
    same = and_(ok, *[or_(and_(is_null(col(n)), is_null(col(f"{n}_x"))), eq(col(n), col(f"{n}_x"))) for n in names])
    return backend.filter(sub, coalesce(same, FALSE))


def _aggregates(cols: dict[str, str], b: AggBind, m: AggregateFunction) -> dict[str, X]:
    """The per-group aggregate nodes of one bind (named after its member columns)."""
    if not cols:  # COUNT(*)
        return {"__count_all": call("agg_count_all", type_=I64)}
    ok = not_(col(cols["e"], BOOL))
    term = col(cols["t"], TERM)
    rank, num = (col(cols[r], t) if r in cols else null(t) for r, t in (("r", INT), ("n", F64)))
    out: dict[str, X] = {}
    valid = when([(ok, term)], type_=TERM)
    if m.base == "COUNT":
        out[cols["t"] + "_count"] = call("agg_count", valid, type_=I64)
    elif m.base in ("SUM", "AVG", "MUL"):
        numeric_ok = and_(ok, cmp(">", rank, rank_lit(RANK_NONE)))
        out[cols["x"] + "_bad"] = call("agg_any", or_(not_(ok), eq(rank, rank_lit(RANK_NONE))), type_=BOOL)
        out[cols["x"] + "_rank"] = call("agg_max", when([(numeric_ok, rank)], type_=INT), type_=INT)
        out[cols["x"] + "_list"] = call("agg_list", when([(numeric_ok, col(cols["x"], STR))]), type_="list")
        if m.base == "SUM":  # the double sum is exact for integers whose magnitudes sum below 2**53
            exact_int = and_(eq(rank, rank_lit(RANK_INTEGER)), cmp("<", call("abs", num), lit(EXACT_LIMIT)))
            out[cols["x"] + "_fast"] = and_(
                not_(call("agg_any", and_(numeric_ok, not_(exact_int)), type_=BOOL)),
                cmp("<", call("agg_sum", when([(numeric_ok, call("abs", num))], type_=F64), type_=F64), lit(EXACT_LIMIT)),
            )
            out[cols["x"] + "_sum"] = call("agg_sum", when([(numeric_ok, num)], type_=F64), type_=F64)
    elif m.base in _OUTPUT_TERM:
        keys = [when([(ok, k)], type_=k.type or STR) for k in _order_keys(cols)]
        out["__pick" + cols["t"]] = call("agg_first", valid, *keys, param=m.base == "MAX", type_=TERM)
        cols["pick"] = "__pick" + cols["t"]
    elif m.base == "GROUP_CONCAT":
        text = when([(ok, col(cols["l"], STR))])
        out[cols["l"] + "_concat"] = call("agg_join", text, param=b.separator, type_=STR)
    return out


def _result(b: AggBind, m: AggregateFunction, cols: dict[str, str]) -> Value:
    """A bind's value from its aggregated columns."""
    if not cols:
        return numeric(cast(col("__count_all", I64), F64), rank_lit(RANK_INTEGER), FALSE, bound=2.0**40)
    if m.base == "COUNT":
        return numeric(cast(col(cols["t"] + "_count", I64), F64), rank_lit(RANK_INTEGER), FALSE, bound=2.0**40)
    if m.base == "GROUP_CONCAT":
        return plain_string(coalesce(col(cols["l"] + "_concat", STR), lit("")), FALSE)
    if m.base in _OUTPUT_TERM:
        return numeric(lit(0.0), rank_lit(RANK_NONE), TRUE)  # not used: the picked term is the result
    x = cols["x"]
    bad = coalesce(col(x + "_bad", BOOL), FALSE)
    rank = coalesce(col(x + "_rank", INT), rank_lit(RANK_INTEGER))
    if m.base == "AVG":
        rank = when([(eq(rank, rank_lit(RANK_INTEGER)), rank_lit(RANK_DECIMAL))], rank, INT)
    gate = when([(not_(bad), rank)], type_=I64)
    host_name = {"SUM": "exact_sum", "AVG": "exact_avg", "MUL": "exact_product"}[m.base]
    exact = host(host_name, gate, col(x + "_list", "list"))
    if m.base != "SUM":
        return numeric(parse_number(exact, rank), rank, or_(bad, is_null(exact)), lex=exact)
    fast = coalesce(col(x + "_fast", BOOL), TRUE)
    total = coalesce(col(x + "_sum", F64), lit(0.0))
    slow = when([(not_(fast), exact)])
    num = when([(fast, total)], parse_number(exact, rank), F64)
    return numeric(num, rank, or_(bad, and_(not_(fast), is_null(exact))), lex=slow)


__all__ = ["aggregate", "aggregate_function", "check_aggregate"]
