"""The Spark executor: runs a :class:`ProgramPlan` over DataFrames of canonical term strings.

It follows the in-memory executor step for step (same strata, same semi-naive variants, same
join order from :func:`fincrime.rules.plan.schedule`, same expression semantics), with Spark
joins, anti-joins and group-bys in place of polars ones. Sizes for the scheduler come from the
row counts taken when each round is committed, so planning needs no extra Spark jobs.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from fincrime.engine.atoms import columns_of, match_columns
from fincrime.engine.fixpoint import run_fixpoint
from fincrime.engine.limits import Limits
from fincrime.engine.spark.backend import SparkBackend
from fincrime.engine.spark.compile import register_functions
from fincrime.engine.spark.io import MAX_SLOW_LINES, parse_marked
from fincrime.engine.spark.relations import (
    Checkpoint,
    Relation,
    column_classes,
    commit_all,
    union_all,
)
from fincrime.engine.sparql import evaluate
from fincrime.engine.sparql.aggregates import aggregate
from fincrime.engine.sparql.heads import head_checks
from fincrime.rules import plan as plans
from fincrime.rules.ast import Atom, Var
from fincrime.rules.facts import fact_rows
from fincrime.rules.plan import (
    ANY_GRAPH,
    TYPE_IRI,
    RelKey,
    Variant,
    atom_key,
    head_vars,
    is_stored,
    matching_keys,
    schedule,
    semi_naive_variants,
)

ProgressFn = Callable[[str], None]


def col(name: str) -> Column:
    return F.col(f"`{name}`")


class SparkExecutor:
    def __init__(self, spark: SparkSession, checkpoint: Checkpoint, broadcast_rows: int = 100_000,
                 limits: Limits | None = None) -> None:
        self.spark = spark
        self.limits = limits or Limits()
        self.broadcast_rows = broadcast_rows
        self.checkpoint = checkpoint
        self.relations: dict[RelKey, Relation] = {}
        self.rounds = 0
        self.skipped: dict[tuple[str, str], int] = {}  # (rule, reason) -> derived rows not written
        self.program_checks: dict[int, list] = {}  # type: ignore[type-arg]  # heads.check_program
        register_functions(spark)

    # --- facts ----------------------------------------------------------------------------
    def empty(self, columns: tuple[str, ...] | list[str]) -> DataFrame:
        schema = StructType([StructField(c, StringType(), True) for c in columns])
        return self.spark.createDataFrame([], schema)

    def relation(self, key: RelKey) -> Relation:
        rel = self.relations.get(key)
        if rel is None:
            rel = self.relations[key] = Relation(key, self.empty)
        return rel

    def load(self, triples: DataFrame) -> dict[RelKey, int]:
        """Route distinct input statements (``s, p, o`` and ``g``, the graph: null for the
        default one) to class and predicate relations; lines the reader marked for the strict
        parser (null ``s``) are parsed here (see ``io``)."""
        if "g" not in triples.columns:
            triples = triples.withColumn("g", F.lit(None).cast("string"))
        triples = triples.distinct().persist()
        kind = F.when(F.col("s").isNull(), F.lit("!")).when(F.col("p") == TYPE_IRI, F.lit("c")).otherwise(F.lit("p"))
        name = F.when(F.col("s").isNull(), F.lit(None)).when(F.col("p") == TYPE_IRI, F.col("o")).otherwise(F.col("p"))
        counts = {(r["k"], r["n"], r["g"] or ""): int(r["count"]) for r in
                  triples.select(kind.alias("k"), name.alias("n"), "g").groupBy("k", "n", "g").count().collect()}
        if counts.pop(("!", None, ""), 0):
            marked = triples.filter(F.col("s").isNull()).limit(MAX_SLOW_LINES + 1).collect()
            parsed = parse_marked([(r["p"], r["o"]) for r in marked])
            triples = triples.filter(F.col("s").isNotNull())
            schema = "s string, p string, o string, g string"
            extra = self.spark.createDataFrame(parsed, schema).distinct()
            extra = extra.join(triples, on=["s", "p", "o", "g"], how="left_anti").collect()  # few rows
            for _s, p_, o_, g_ in extra:
                key = ("c", o_, g_ or "") if p_ == TYPE_IRI else ("p", p_, g_ or "")
                counts[key] = counts.get(key, 0) + 1
            if extra:
                triples = triples.unionByName(self.spark.createDataFrame(extra, schema))
        for (k, n, g), rows in counts.items():
            key = RelKey("c", n, 1, g) if k == "c" else RelKey("p", n, 2, g)
            in_graph = F.col("g").isNull() if not g else F.col("g") == g
            if key.kind == "c":
                part = triples.filter((F.col("p") == TYPE_IRI) & (F.col("o") == key.name) & in_graph).select("s")
            else:
                part = triples.filter((F.col("p") == key.name) & in_graph).select("s", "o")
            self.relation(key).set_input(part.persist(), rows)
        loaded = [rel for rel in self.relations.values() if rel.input is not None]
        if loaded:  # one job computes (and so caches) every slice and their type classes
            for rel, classes in zip(loaded, column_classes([(rel, rel.input) for rel in loaded]), strict=True):
                rel.note_classes(classes)
        triples.unpersist()
        return {k: r.input_rows for k, r in self.relations.items()}

    def commit(self) -> dict[RelKey, int]:
        return commit_all(list(self.relations.values()), self.checkpoint)

    # --- program --------------------------------------------------------------------------
    def run(self, plan: plans.ProgramPlan, say: ProgressFn) -> None:
        self.rounds += run_fixpoint(self, plan, self.limits, say)

    # --- the fixpoint driver's hooks (fincrime.engine.fixpoint) -------------------------------
    def prepare(self, plan: plans.ProgramPlan) -> None:
        for key, rows in fact_rows(plan.facts).items():  # one frame per relation, not one per fact
            schema = StructType([StructField(c, StringType(), False) for c in columns_of(key)])
            self.relation(key).add(self.spark.createDataFrame(rows, schema))

    def begin_round(self, recursive: bool) -> None:
        pass

    def watched(self, stratum) -> list[RelKey]:  # type: ignore[no-untyped-def]
        return stratum.watched_keys(self.relations)

    def has_delta(self, rule: plans.RulePlan, atom: int) -> bool:
        return self._size(atom_key(rule.body.atoms[atom]), "delta") > 0

    def evaluate(self, rule: plans.RulePlan, changed: list[int] | None) -> None:
        if changed is None:
            self._evaluate(rule, [Variant.at(len(rule.body.atoms), None)])
        else:  # the changed atoms' variants, grouped where they share a pivot, as one Spark job
            self._evaluate(rule, semi_naive_variants(rule, changed.__contains__))

    def fact_count(self) -> int:
        return sum(r.size("full") for r in self.relations.values())

    def _matching_keys(self, key: RelKey) -> list[RelKey]:
        return matching_keys(key, self.relations)

    def _size(self, key: RelKey, mode: str) -> int:
        return sum(self.relations[k].size(mode) for k in self._matching_keys(key) if k in self.relations)

    # --- rule evaluation --------------------------------------------------------------------
    def _evaluate(self, rp: plans.RulePlan, variants: list[Variant]) -> None:
        """Evaluate the semi-naive variants of a rule as one frame: one Spark job then runs them
        all, instead of one job (and one plan) each."""
        needed = sorted(head_vars(rp.rule))
        frames = []
        for variant in variants:
            frame = self.evaluate_body(rp.body, variant, rp.rule.base)
            if frame is not None:
                frames.append(frame.select(*[col(v) for v in needed]) if needed else frame.select(F.lit(0).alias("_")))
        if not frames:
            return
        frame = union_all(frames)
        checks = self.program_checks.get(id(rp.rule))
        if checks is None:
            checks = self.program_checks[id(rp.rule)] = head_checks(rp.rule)
        if len(rp.head) > 1 or checks:  # one evaluation of the body feeds every head atom (and check)
            frame = self.checkpoint(frame)
        if checks:
            frame, skipped = evaluate.valid_heads(SparkBackend(), frame, checks)
            for reason, n in skipped.items():
                self.skipped[(rp.rule.label(), reason)] = self.skipped.get((rp.rule.label(), reason), 0) + n
        for head in rp.head:
            self._insert_head(head, frame)

    def evaluate_body(
        self, body: plans.BodyPlan, variant: Variant | None, base: str | None, seed: DataFrame | None = None,
    ) -> DataFrame | None:
        """The matches of a body (None when a relation it needs is known to be empty)."""
        outer = frozenset(seed.columns) if seed is not None else frozenset()
        variant = variant or Variant.at(len(body.atoms), None)
        keyed = self._keyed_old(body, variant) if variant.group else None

        def size(key: RelKey, mode: str) -> int:
            if mode == "keyed":  # the new facts, plus older ones of pivots that have both
                return self._size(key, "delta") + (self._size(key, "old") if keyed is not None else 0)
            return self._size(key, mode)

        backend = SparkBackend(self._type_hints(body), {})
        frame = seed
        rows: int | None = None  # an upper bound of the frame's rows, while one is known
        for step in schedule(body, variant, size, outer):
            if step.op in ("scan", "join") and size(atom_key(body.atoms[step.atom]), step.mode) == 0:
                return None
            if step.op == "join" and rows is not None and rows <= self.broadcast_rows \
                    and size(atom_key(body.atoms[step.atom]), step.mode) > self.broadcast_rows:
                # a few new facts against a large relation: ship the few, scan the many in place
                frame = F.broadcast(frame)  # type: ignore[arg-type]
            frame = self._step(step, body, frame, base, (variant.pivot, keyed), size, backend)
            if frame is None:
                return None
            if step.op == "scan":
                rows = size(atom_key(body.atoms[step.atom]), step.mode)
            elif step.op in ("join", "agg"):
                rows = None
        return frame

    def _type_hints(self, body: plans.BodyPlan) -> dict[str, int]:
        """Variables whose every value has one type class: the smallest set of classes any
        atom binding the variable allows (known for every stored column, see relations)."""
        allowed: dict[str, frozenset[int]] = {}
        for atom in body.atoms:
            key = atom_key(atom)
            if key.kind == "*" or (key.kind == "p" and key.name == TYPE_IRI):
                continue
            for name, arg in zip(columns_of(key), _column_args(atom, key), strict=True):
                if not isinstance(arg, Var):
                    continue
                classes = self._column_classes(key, name)
                if classes is not None:
                    allowed[arg.name] = allowed[arg.name] & classes if arg.name in allowed else classes
        return {v: next(iter(c)) for v, c in allowed.items() if len(c) == 1}

    def _column_classes(self, key: RelKey, column: str) -> frozenset[int] | None:
        keys = [k for k in self._matching_keys(key) if k in self.relations] if key.kind != "*" else []
        if not keys:
            return None
        out: set[int] = set()
        for k in keys:
            classes = self.relations[k].classes.get(column)
            if classes is None:
                return None
            out |= classes
        return frozenset(out)

    def _keyed_old(self, body: plans.BodyPlan, variant: Variant) -> DataFrame | None:
        """Pivot values with new facts in the group that also have older facts there (stored;
        None when there are none, the usual case for freshly minted nodes)."""
        pivot = variant.pivot
        new = [self.atom_frame(body.atoms[g], "delta").select(col(pivot)) for g in variant.group
               if self._size(atom_key(body.atoms[g]), "delta")]
        old = [self.atom_frame(body.atoms[g], "old").select(col(pivot)) for g in variant.group
               if self._size(atom_key(body.atoms[g]), "old")]
        if not new or not old:
            return None
        both = union_all(new).distinct().join(union_all(old).distinct(), on=[pivot], how="left_semi")
        rows = both.limit(self.broadcast_rows + 1).collect()  # one job; usually no rows at all
        if not rows:
            return None
        if len(rows) > self.broadcast_rows:
            return self.checkpoint(both)
        return self.spark.createDataFrame(rows, both.schema)

    def _step(
        self, step: plans.Step, body: plans.BodyPlan, frame: DataFrame | None, base: str | None,
        keyed: tuple[str, DataFrame | None], size: Callable[[RelKey, str], int], backend: SparkBackend,
    ) -> DataFrame | None:
        if step.op in ("scan", "join"):
            atom = body.atoms[step.atom]
            if step.mode == "keyed":
                pivot, older = keyed
                right = self.atom_frame(atom, "delta")
                if older is not None:
                    right = right.unionByName(self.atom_frame(atom, "old").join(F.broadcast(older), on=[pivot], how="left_semi"))
            else:
                right = self.atom_frame(atom, step.mode)
            if frame is None:
                return right
            if size(atom_key(atom), step.mode) <= self.broadcast_rows:
                right = F.broadcast(right)  # known to be small: no shuffle of the other side
            return _join(frame, right)
        if step.op == "agg":
            assert step.aggregate is not None
            agg = self._aggregate(step.aggregate, base)
            if agg is None:
                return None
            return agg if frame is None else _join(frame, agg)
        assert frame is not None
        if step.op == "filter":
            assert step.expr is not None
            return evaluate.filter_rows(backend, frame, step.expr, base)
        if step.op == "bind":
            assert step.expr is not None and step.var is not None
            return evaluate.bind(backend, frame, step.expr, base, step.var)
        if step.op == "anti":
            assert step.negation is not None
            return self._anti(frame, step.negation, list(step.on), base)
        raise AssertionError(step.op)

    def _anti(self, frame: DataFrame, neg: plans.NegationPlan, on: list[str], base: str | None) -> DataFrame:
        seed = frame.select(*[col(c) for c in on]).distinct() if on else None
        matched = self.evaluate_body(neg.body, None, base, seed)
        if matched is None:
            return frame
        if not on:  # any match at all removes every row
            return frame.join(matched.select(F.lit(1).alias("__any")).limit(1), how="left_anti")
        return frame.join(matched.select(*[col(c) for c in on]).distinct(), on=on, how="left_anti")

    # --- atoms --------------------------------------------------------------------------------
    def atom_frame(self, atom: Atom, mode: str) -> DataFrame:
        """The facts matching an atom, as a frame with one column per distinct variable."""
        key = atom_key(atom)
        if not is_stored(key):  # a union of stored relations, every column spelled out
            frame, names, args = self._union(key, mode), ["s", "p", "o"], list(atom.args)
            if key.graph == ANY_GRAPH:
                names, args = [*names, "g"], [*args, atom.graph]
        else:
            frame, names, args = self._view(key, mode), list(columns_of(key)), _column_args(atom, key)
        constants, repeats, first_col = match_columns(names, args)
        conds = [F.col(name) == term for name, term in constants]
        conds += [F.col(a) == F.col(b) for a, b in repeats]
        for cond in conds:
            frame = frame.filter(cond)
        if not first_col:
            return frame.select(F.lit(0).alias("__row")).limit(1)
        return frame.select(*[F.col(c).alias(v) for v, c in first_col.items()])

    def _view(self, key: RelKey, mode: str) -> DataFrame:
        rel = self.relations.get(key)
        return rel.view(mode) if rel is not None else self.empty(Relation(key, self.empty).columns)

    def _union(self, key: RelKey, mode: str) -> DataFrame:
        """The stored relations an atom of ``key`` reads, as ``s, p, o, g`` columns."""
        parts = []
        for k in matching_keys(key, self.relations):
            rel = self.relations[k]
            if rel.size(mode) == 0:
                continue
            g = F.lit(k.graph or None).cast("string").alias("g")
            if k.kind == "c":
                parts.append(rel.view(mode).select("s", F.lit(TYPE_IRI).alias("p"), F.lit(k.name).alias("o"), g))
            else:
                parts.append(rel.view(mode).select("s", F.lit(k.name).alias("p"), "o", g))
        return union_all(parts) if parts else self.empty(("s", "p", "o", "g"))

    def _insert_head(self, head: Atom, frame: DataFrame) -> None:
        cols = [
            col(arg.name).alias(f"a{i}") if isinstance(arg, Var) else F.lit(arg.term).alias(f"a{i}")
            for i, arg in enumerate(head.args)
        ]
        graph = head.graph
        key = atom_key(head)
        if is_stored(key):
            rows = frame.select(*cols)
            if key.kind == "t":
                self.relation(key).add(rows.toDF(*[f"c{i}" for i in range(len(head.args))]))
            elif key.kind == "c":
                self.relation(key).add(rows.select(F.col("a0").alias("s")))
            else:
                self.relation(key).add(rows.select(F.col("a0").alias("s"), F.col("a2").alias("o")))
            return
        # the predicate, the class or the graph is a variable: route by value
        g = col(graph.name) if isinstance(graph, Var) else F.lit(graph.term if graph is not None else None)
        rows = self.checkpoint(frame.select(*cols, g.cast("string").alias("g")).select(
            F.col("a0").alias("s"), F.col("a1").alias("p"), F.col("a2").alias("o"), "g"))
        routes = rows.select("p", F.when(F.col("p") == TYPE_IRI, F.col("o")).alias("c"), "g").distinct().collect()
        for r in routes:
            named = r["g"] or ""
            if named and named[0] not in "<_":
                continue  # a literal names no graph
            in_graph = F.col("g").isNull() if not named else F.col("g") == named
            if r["p"] == TYPE_IRI:
                target = RelKey("c", r["c"], 1, named)
                part = rows.filter((F.col("p") == TYPE_IRI) & (F.col("o") == r["c"]) & in_graph).select("s")
            else:
                target = RelKey("p", r["p"], 2, named)
                part = rows.filter((F.col("p") == r["p"]) & in_graph).select("s", "o")
            if not target.name.startswith("<"):
                continue  # a literal or blank node cannot be a predicate or a class
            self.relation(target).add(part)

    # --- aggregates ----------------------------------------------------------------------------
    def _aggregate(self, agg: plans.AggregatePlan, base: str | None) -> DataFrame | None:
        rows = self.evaluate_body(agg.body, None, base)
        if rows is None:
            if agg.group:
                return None
            body_vars = sorted(set().union(*(a.variables() for a in agg.body.atoms)) or {"__empty"})
            rows = self.empty(body_vars)
        return aggregate(SparkBackend(self._type_hints(agg.body), {}), rows, list(agg.group), agg.binds, base)


def _column_args(atom: Atom, key: RelKey) -> list:  # type: ignore[type-arg]
    """The atom's arguments in the order of its relation's stored columns."""
    if key.kind == "c":
        return [atom.args[0]]
    if key.kind == "p":
        return [atom.args[0], atom.args[2]]
    return list(atom.args)


def _join(left: DataFrame, right: DataFrame) -> DataFrame:
    on = [c for c in right.columns if c in left.columns and not c.startswith("__")]
    if "__row" in right.columns:  # a ground atom: it holds or it does not
        return left.join(right, how="left_semi")
    clash = [c for c in right.columns if c.startswith("__") and c in left.columns]
    if clash:  # typed fields both sides carry: the left's are kept
        right = right.drop(*clash)
    return left.join(right, on=on, how="inner") if on else left.crossJoin(right)


__all__ = ["SparkExecutor"]
