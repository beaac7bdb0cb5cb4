"""Expressions and aggregates evaluated over frames of term ids.

An expression is compiled (:mod:`expressions`) against a scratch frame that gathers, on first use,
the typed attributes of the variables it reads from the term dictionary; its values are encoded
back to term ids (existing terms pass through, new ones are spelled canonically and encoded).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fincrime.engine.memory.dictionary import ID, TermDictionary
from fincrime.engine.memory.expressions import Compiler, Value, attr_column, ebv
from fincrime.engine.memory.values import KIND_BLANK, KIND_IRI, KIND_LITERAL
from fincrime.errors import InputError
from fincrime.rdf.terms import XSD_STRING, canonical_decimal, canonical_double
from fincrime.rules.ast import AggBind, EVar, Expr, expr_vars
from fincrime.rules.plan import AggregatePlan
from fincrime.vocab import XSD


class Evaluator:
    """Evaluates FILTER conditions, BIND values and aggregates for one term dictionary."""

    def __init__(self, terms: TermDictionary) -> None:
        self.terms = terms

    def filter(self, frame: pl.DataFrame, expr: Expr, base: str | None) -> pl.DataFrame:
        """The rows whose condition holds (an error is not a match), without scratch columns."""
        scratch = _Scratch(self, frame)
        val, err = ebv(scratch.compiler(base, expr_vars(expr)).compile(expr))
        frame = scratch.ready()
        return frame.filter(val & ~err).select([c for c in frame.columns if not c.startswith("__")])

    def _with_attrs(self, frame: pl.DataFrame, used: set[tuple[str, str]]) -> pl.DataFrame:
        missing = [(v, a) for v, a in sorted(used) if attr_column(v, a) not in frame.columns]
        if not missing:
            return frame
        return frame.with_columns(
            [self.terms.attribute(a).gather(frame[v]).alias(attr_column(v, a)) for v, a in missing]
        )

    def ids(self, frame: pl.DataFrame, expr, base: str | None) -> pl.Series:  # type: ignore[no-untyped-def]
        """Evaluate an expression per row and return term ids (null where it errs)."""
        if isinstance(expr, EVar):
            return frame[expr.name]
        scratch = _Scratch(self, frame)
        parts = value_columns(scratch.compiler(base, expr_vars(expr)).compile(expr))
        return self._encode_parts(_per_row(scratch.ready(), parts))

    def _encode_parts(self, parts: pl.DataFrame) -> pl.Series:
        """Term ids of computed values: existing ids pass through, new values are spelled as
        canonical term strings and encoded (null where the value is an error)."""
        parts = parts.with_columns(pl.when(~pl.col("err")).then(pl.col("id")).alias("id"))
        need = (parts["id"].is_null() & ~parts["err"]).to_numpy()
        if not need.any():
            return parts["id"].cast(ID)
        todo = parts.filter(pl.Series(need))
        todo = todo.with_columns(_number_lex(todo).alias("numlex"))
        lex = pl.coalesce(pl.col("numlex"), pl.col("lex"))
        escaped = (
            lex.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
            .str.replace_all("\n", "\\n", literal=True).str.replace_all("\r", "\\r", literal=True)
        )
        dt_suffix = (
            pl.when(pl.col("lang").is_not_null() & (pl.col("lang") != "")).then(pl.lit("@") + pl.col("lang"))
            .when(pl.col("dt").is_null() | (pl.col("dt") == XSD_STRING)).then(pl.lit(""))
            .otherwise(pl.lit("^^<") + pl.col("dt") + pl.lit(">"))
        )
        kind = todo["kind"]
        if (kind == KIND_IRI).all():  # the common case (minted nodes): skip the literal spelling
            key = pl.lit("<") + pl.col("lex") + pl.lit(">")
        else:
            key = (
                pl.when(pl.col("kind") == KIND_IRI).then(pl.lit("<") + pl.col("lex") + pl.lit(">"))
                .when(pl.col("kind") == KIND_BLANK).then(pl.lit("_:") + pl.col("lex"))
                .when(pl.col("kind") == KIND_LITERAL).then(pl.lit('"') + escaped + pl.lit('"') + dt_suffix)
            )
        new_ids = self.terms.encode(todo.select(key.alias("key"))["key"])
        return parts["id"].cast(ID).scatter(np.flatnonzero(need), new_ids)

    def aggregate(self, agg: AggregatePlan, rows: pl.DataFrame | None, base: str | None) -> pl.DataFrame:
        """The groups of an aggregate over the matches ``rows`` of its body."""
        out_schema = {v: ID for v in agg.outputs}
        if rows is None or rows.height == 0:
            if agg.group:
                return pl.DataFrame(schema=out_schema)
            rows = pl.DataFrame({"__empty": [0]}).clear()
        rows = rows.unique()  # aggregates see each distinct body answer once
        group = list(agg.group)
        exprs: list[pl.Expr] = []
        post: list[tuple[AggBind, str]] = []
        for i, b in enumerate(agg.binds):
            col = f"__arg{i}"
            if b.args:
                scratch = _Scratch(self, rows)
                value = scratch.compiler(base, expr_vars(b.args[0])).compile(b.args[0])
                parts = [*value_columns(value), value.time.alias("time")]
                computed = _per_row(scratch.ready(), parts)
                ids = computed["id"] if isinstance(b.args[0], EVar) else self._encode_parts(computed.drop("time"))
                rows = rows.with_columns(
                    ids.alias(col), computed["kind"].alias(f"{col}k"), computed["num"].alias(f"{col}n"),
                    computed["ntype"].alias(f"{col}t"), computed["lex"].alias(f"{col}l"),
                    computed["time"].alias(f"{col}m"), computed["err"].alias(f"{col}e"),
                )
            exprs += _agg_exprs(b, col, i)
            post.append((b, col))
        grouped = rows.group_by(group).agg(exprs) if group else rows.select(exprs)
        out_cols = [pl.col(g) for g in group]
        numeric_parts = []
        for i, (b, _) in enumerate(post):
            if b.func in ("MIN", "MAX", "SAMPLE"):
                out_cols.append(pl.col(f"__r{i}").alias(b.var))
            else:
                numeric_parts.append((i, b))
        result = grouped
        for i, b in numeric_parts:
            if b.func == "GROUP_CONCAT":
                parts = result.select(
                    pl.lit(None, ID).alias("id"), pl.lit(KIND_LITERAL, pl.Int8).alias("kind"),
                    pl.col(f"__r{i}").alias("lex"), pl.lit(XSD_STRING).alias("dt"), pl.lit(None, pl.String).alias("lang"),
                    pl.lit(None, pl.Float64).alias("num"), pl.lit(0, pl.Int8).alias("ntype"),
                    pl.col(f"__e{i}").alias("err"),
                )
            else:
                ntype = pl.col(f"__t{i}")
                dt = pl.lit(None, pl.String)
                for rank, name in ((1, "integer"), (2, "decimal"), (3, "float"), (4, "double")):
                    dt = pl.when(ntype == rank).then(pl.lit(XSD + name)).otherwise(dt)
                parts = result.select(
                    pl.lit(None, ID).alias("id"), pl.lit(KIND_LITERAL, pl.Int8).alias("kind"),
                    pl.lit(None, pl.String).alias("lex"), dt.alias("dt"), pl.lit(None, pl.String).alias("lang"),
                    pl.col(f"__r{i}").cast(pl.Float64).alias("num"), ntype.alias("ntype"), pl.col(f"__e{i}").alias("err"),
                )
            result = result.with_columns(self._encode_parts(parts).alias(b.var))
            out_cols.append(pl.col(b.var))
        final = result.select(out_cols)
        return final.filter(pl.all_horizontal([pl.col(v).is_not_null() for v in final.columns]))


def _per_row(frame: pl.DataFrame, exprs: list[pl.Expr]) -> pl.DataFrame:
    """``frame.select(exprs)`` with one row per frame row, also when every expression is a
    constant (polars then gives a single row, e.g. for ``BIND(:x AS ?v)``)."""
    out = frame.select(exprs)
    if out.height == frame.height:
        return out
    return pl.int_range(frame.height, eager=True).to_frame("__row").join(out, how="cross").drop("__row")


class _Scratch:
    """A frame being extended with the columns an expression needs: variables' attributes
    (gathered from the dictionary when first used) and each function's materialized result."""

    def __init__(self, executor: Evaluator, frame: pl.DataFrame) -> None:
        self.executor = executor
        self.frame = frame
        self._compiler: Compiler | None = None
        self._n = 0

    def compiler(self, base: str | None, variables: set[str] | None = None) -> Compiler:
        self._compiler = Compiler(base, self.executor.terms.lookup_one, sink=self.materialize)
        for v in sorted(variables or ()):
            if v in self.frame.columns and self.frame.height:
                classes = self.executor.terms.attribute("tclass").gather(self.frame[v]).unique()
                if classes.len() == 1:
                    self._compiler.hints[v] = int(classes[0])
        return self._compiler

    def ready(self) -> pl.DataFrame:
        assert self._compiler is not None
        self.frame = self.executor._with_attrs(self.frame, self._compiler.used)
        # The compiler's sink is our bound method: drop the link so this scratch (and its large
        # frame) is freed by reference counting now, not at some later cyclic collection.
        self._compiler.sink = None  # type: ignore[assignment]
        self._compiler = None
        return self.frame

    def materialize(self, compiler: Compiler, value: Value) -> Value:
        fields = {f: getattr(value, f) for f in (*VALUE_FIELDS, "id")}
        self.frame = self.executor._with_attrs(self.frame, compiler.used)
        self._n += 1
        # constant fields (a null datatype, a fixed kind) stay literals: no column to fill
        computed = {f: e for f, e in fields.items() if not e.meta.is_literal(allow_aliasing=True)}
        names = {f: f"__x{self._n}_{f}" for f in computed}
        self.frame = self.frame.with_columns([e.alias(names[f]) for f, e in computed.items()])
        return Value(**{f: pl.col(names[f]) if f in names else e for f, e in fields.items()})


VALUE_FIELDS = ("kind", "lex", "dt", "lang", "num", "ntype", "time", "boolv", "err")


def value_columns(value: Value) -> list[pl.Expr]:
    """The columns a value is encoded from (reading them records the attributes it needs)."""
    return [
        value.id.alias("id"), value.kind.alias("kind"), value.lex.alias("lex"), value.dt.alias("dt"),
        value.lang.alias("lang"), value.num.alias("num"), value.ntype.alias("ntype"), value.err.alias("err"),
    ]


def _agg_exprs(b: AggBind, col: str, i: int) -> list[pl.Expr]:
    err = pl.col(f"{col}e") if b.args else pl.lit(False)
    if b.func == "COUNT":
        target = pl.col(col).filter(~err) if b.args else pl.len()
        counted = (target.n_unique() if b.distinct else target.count()) if b.args else pl.len()
        return [counted.cast(pl.Float64).alias(f"__r{i}"), pl.lit(1, pl.Int8).alias(f"__t{i}"), pl.lit(False).alias(f"__e{i}")]
    if b.func in ("SUM", "AVG"):
        src = pl.struct(pl.col(col), pl.col(f"{col}n")).unique() if b.distinct else None
        num = pl.col(f"{col}n")
        if src is not None:
            total = src.struct.field(f"{col}n").sum()
        else:  # integers and decimals summed exactly, then rounded once, as the Spark executor does
            # (through the shortest text of each double: a direct cast to Decimal truncates)
            fixed = num.cast(pl.String).cast(pl.Decimal(38, 12), strict=False)
            exact = fixed.sum().cast(pl.Float64)
            fits = fixed.null_count() == num.null_count()
            total = pl.when((pl.col(f"{col}t").max() <= 2) & fits).then(exact).otherwise(num.sum())
        count = (src.len() if src is not None else num.count())
        ntype = pl.col(f"{col}t").max()
        bad = (pl.col(f"{col}t") == 0).any() | err.any()
        if b.func == "SUM":
            return [total.alias(f"__r{i}"), ntype.fill_null(1).alias(f"__t{i}"), bad.alias(f"__e{i}")]
        avg_t = pl.when(ntype == 1).then(pl.lit(2, pl.Int8)).otherwise(ntype).fill_null(1)
        return [
            pl.when(count > 0).then(total / count).otherwise(0.0).alias(f"__r{i}"),
            avg_t.alias(f"__t{i}"), bad.alias(f"__e{i}"),
        ]
    if b.func in ("MIN", "MAX"):
        kind = pl.col(f"{col}k")
        rank = (
            pl.when(kind == KIND_BLANK).then(0).when(kind == KIND_IRI).then(1)
            .when(pl.col(f"{col}t") > 0).then(2).when(pl.col(f"{col}m").is_not_null()).then(3).otherwise(4)
        )
        keys = [rank, pl.col(f"{col}n"), pl.col(f"{col}m"), pl.col(f"{col}l"), pl.col(col)]
        ordered = pl.col(col).filter(~err).sort_by([k.filter(~err) for k in keys], descending=b.func == "MAX", nulls_last=True)
        return [ordered.first().alias(f"__r{i}")]
    if b.func == "SAMPLE":
        return [pl.col(col).filter(~err).min().alias(f"__r{i}")]
    if b.func == "GROUP_CONCAT":
        values = pl.col(f"{col}l").filter(~err)
        if b.distinct:
            values = values.unique(maintain_order=True)
        return [values.str.join(b.separator).alias(f"__r{i}"), pl.lit(False).alias(f"__e{i}")]
    raise InputError(f"the aggregate {b.func} is not evaluated by this engine yet")


def _number_lex(frame: pl.DataFrame) -> pl.Expr:
    """Canonical lexical forms of computed numbers (integers vectorized, the rest per value)."""
    ntype, num = pl.col("ntype"), pl.col("num")
    todo = frame.filter((pl.col("ntype") > 1) & pl.col("lex").is_null() & pl.col("num").is_not_null())
    lookup = {}
    for t, n in zip(todo["ntype"].to_list(), todo["num"].to_list(), strict=True):
        lookup[(t, n)] = canonical_decimal(n) if t == 2 else canonical_double(n)
    table = pl.DataFrame(
        {"ntype": [k[0] for k in lookup], "num": [k[1] for k in lookup], "lexv": list(lookup.values())},
        schema={"ntype": pl.Int8, "num": pl.Float64, "lexv": pl.String},
    )
    mapped = frame.select("ntype", "num").join(table, on=["ntype", "num"], how="left", maintain_order="left")["lexv"]
    return (
        pl.when(pl.col("lex").is_not_null()).then(pl.col("lex"))
        .when(ntype == 1).then(num.round(0).cast(pl.Int64).cast(pl.String))
        .when(ntype > 1).then(pl.lit(mapped))
    )
