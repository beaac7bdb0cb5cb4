"""The in-memory executor: runs a :class:`ProgramPlan` over dictionary-encoded polars frames.

Why polars: joins, anti-joins, group-bys and string functions run vectorized in Rust on all
cores, and a body is evaluated as a handful of whole-relation operations per round instead of
per-tuple Python. Measured against alternatives in ``bench/RESULTS.md``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from fincrime.engine.atoms import columns_of, match_columns
from fincrime.engine.fixpoint import run_fixpoint
from fincrime.engine.limits import Limits
from fincrime.engine.memory.allocator import release_free_memory
from fincrime.engine.memory.dictionary import ID, TermDictionary
from fincrime.engine.memory.entities import EntityTable
from fincrime.engine.memory.evaluation import Evaluator
from fincrime.engine.memory.rangejoin import FLIPPED, OPERATORS, SortedRight, range_join, sort_right
from fincrime.engine.memory.relations import Relation
from fincrime.engine.memory.starjoin import StarReader
from fincrime.rules.ast import Atom, Const, ECall, EVar, Var, expr_vars
from fincrime.rules.facts import fact_rows
from fincrime.rules.plan import (
    ANY_GRAPH,
    TYPE_IRI,
    AggregatePlan,
    BodyPlan,
    NegationPlan,
    ProgramPlan,
    RelKey,
    RulePlan,
    Step,
    Variant,
    atom_key,
    is_stored,
    matching_keys,
    schedule,
)
from fincrime.rules.stars import HeadShape, head_shapes

ProgressFn = Callable[[str], None]

# An expression is evaluated per distinct input when a sample of MEMO_SAMPLE rows of a frame of
# at least MEMO_MIN_ROWS rows has under 1/MEMO_RATIO distinct inputs.
MEMO_MIN_ROWS = 50_000
MEMO_SAMPLE = 20_000
MEMO_RATIO = 20
# A large first scan of a rule body is evaluated this many rows at a time (bounds memory).
SLICE_ROWS = 1_000_000
# A join followed by an inequality between its sides runs as a range join from this many rows.
RANGE_MIN_ROWS = 10_000
RANGE_OPERATORS = frozenset(OPERATORS)
RANGE_FLIPPED = FLIPPED
TIME_CLASSES = frozenset({9, 10})  # values.TCLASS_DATATYPES: xsd:dateTime, xsd:date
INTEGER_CLASS = 5  # xsd:integer
#: functions whose value is not a function of their arguments
NONDETERMINISTIC = frozenset({"RAND", "NOW", "BNODE", "UUID", "STRUUID"})


def _packed_key(variables: list[str]) -> pl.Expr | None:
    """One UInt64 standing for one or two id columns (hashing one column is far cheaper than
    hashing rows of several)."""
    if len(variables) == 1:
        return pl.col(variables[0]).cast(pl.UInt64)
    if len(variables) == 2:
        return pl.col(variables[0]).cast(pl.UInt64) * (1 << 32) + pl.col(variables[1]).cast(pl.UInt64)
    return None


def _calls(expr) -> set[str]:  # type: ignore[no-untyped-def]
    if isinstance(expr, ECall):
        out = {expr.op}
        for a in expr.args:
            out |= _calls(a)
        return out
    return set()


@dataclass
class RuleStats:
    label: str
    text: str
    evaluations: int = 0
    fired: int = 0  # body matches projected to heads, before deduplication
    derived: int = 0  # new facts
    seconds: float = 0.0


@dataclass
class RunStats:
    rounds: int = 0
    rules: dict[int, RuleStats] = field(default_factory=dict)


class MemoryExecutor:
    def __init__(self, base_for: Callable[[RulePlan], str | None] | None = None, entity_tables: bool = True,
                 limits: Limits | None = None) -> None:
        self.terms = TermDictionary()
        self.evaluator = Evaluator(self.terms)
        self.relations: dict[RelKey, Relation] = {}
        self.stats = RunStats()
        self._base_for = base_for or (lambda _: None)
        self._fresh_from: int | None = None
        self._prev_fresh_from: int = 0
        self._in_recursion = False  # inside the rounds after a stratum's first (delta) round
        self._round = 0
        self._type_id: int | None = None
        self.entity_tables = entity_tables  # off: every head atom is stored as a triple (for tests)
        self.limits = limits or Limits()
        self._sorted_right: dict[tuple, tuple[pl.DataFrame, str, SortedRight]] = {}
        self.entities: dict[str, EntityTable] = {}
        self._shapes: dict[int, list[tuple[HeadShape, EntityTable]]] = {}  # rule index -> shapes
        self.stars = StarReader(self.relations.get, lambda: list(self.entities.values()))

    # --- facts ----------------------------------------------------------------------------
    def relation(self, key: RelKey) -> Relation:
        rel = self.relations.get(key)
        if rel is None:
            rel = self.relations[key] = Relation(key)
        return rel

    @property
    def type_id(self) -> int:
        if self._type_id is None:
            self._type_id = self.terms.encode_one(TYPE_IRI)
        return self._type_id

    def add_triples(self, frame: pl.DataFrame, bulk: bool = False) -> None:
        """Add ``s, p, o`` id triples (routing ``rdf:type`` triples to class relations); with a
        ``g`` column (null: the default graph) each goes to the relation of its graph.
        ``bulk``: queue them without deduplication (see :meth:`finish_bulk`)."""
        if "g" in frame.columns and frame["g"].null_count() < frame.height:
            for (gid,), part in frame.partition_by("g", as_dict=True).items():
                graph = "" if gid is None else self.terms.decode(pl.Series([gid], dtype=ID))[0]
                if graph[:1] in ("", "<", "_"):  # a literal names no graph
                    self._add_graph_triples(part, graph, bulk)
            return
        self._add_graph_triples(frame, "", bulk)

    def _add_graph_triples(self, frame: pl.DataFrame, graph: str, bulk: bool) -> None:
        typed = frame.filter(pl.col("p") == self.type_id)
        other = frame.filter(pl.col("p") != self.type_id)
        for (cls,), part in typed.partition_by("o", as_dict=True).items():
            key = RelKey("c", self.terms.decode(pl.Series([cls], dtype=ID))[0], 1, graph)
            rel = self.relation(key)
            rel.append(part.select("s")) if bulk else rel.add(part.select("s"), self._fresh_from)
        for (pred,), part in other.partition_by("p", as_dict=True).items():
            key = RelKey("p", self.terms.decode(pl.Series([pred], dtype=ID))[0], 2, graph)
            rel = self.relation(key)
            rel.append(part.select("s", "o")) if bulk else rel.add(part.select("s", "o"), self._fresh_from)

    def load_terms(self, triples: pl.DataFrame, bulk: bool = False) -> None:
        """Load input statements given as canonical term strings (``g``: the graph, if any;
        ``bulk``: a chunk of a larger input, deduplicated once by :meth:`finish_bulk`)."""
        columns = {c: self.terms.encode(triples[c]) for c in ("s", "p", "o", "g") if c in triples.columns}
        self.add_triples(pl.DataFrame(columns), bulk=bulk)

    def finish_bulk(self) -> None:
        """Deduplicate what bulk loads queued, once per relation."""
        for rel in self.relations.values():
            rel.dedupe_pending()

    def load_facts(self, plan: ProgramPlan) -> None:
        """The rule files' facts, one frame per relation (not one insert per fact)."""
        for key, rows in fact_rows(plan.facts).items():
            columns = columns_of(key)
            frame = pl.DataFrame({c: self.terms.encode(pl.Series(c, [r[i] for r in rows], dtype=pl.String))
                                  for i, c in enumerate(columns)})
            self.relation(key).add(frame, self._fresh_from)

    def commit(self) -> dict[RelKey, int]:
        self._reconcile_entities()
        gc.collect()  # cheap (few Python objects); frees any frame caught in a reference cycle
        release_free_memory()
        self._round += 1
        deltas = {k: r.commit(self._round) for k, r in self.relations.items()}
        for table in self.entities.values():
            new = table.commit(self._round)
            for member in (*table.classes, *table.predicates):
                key = self._member_key(table, member)
                deltas[key] = deltas.get(key, 0) + new
        return deltas

    # --- entity tables ------------------------------------------------------------------------
    def _member_key(self, table: EntityTable, member: str) -> RelKey:
        return RelKey("c", member, 1) if member in table.classes else RelKey("p", member)

    def _plan_entities(self, plan: ProgramPlan) -> None:
        """One entity table per head shape of every rule (see :mod:`.entities`)."""
        if not self.entity_tables:
            return
        for rp in plan.rule_plans():
            shapes = []
            for n, shape in enumerate(head_shapes(rp.rule)):
                table = EntityTable(f"rule{rp.index}.{n}", shape.classes, shape.predicates)
                self.entities[table.name] = table
                for member in (*shape.classes, *shape.predicates):
                    self.relation(self._member_key(table, member)).attach(table)
                shapes.append((shape, table))
            if shapes:
                self._shapes[rp.index] = shapes

    def _insert_entity(self, shape: HeadShape, table: EntityTable, frame: pl.DataFrame) -> int:
        """Rows for the table when their subject was minted this round and occurs once; the
        other rows become triples."""
        columns = [pl.col(shape.subject).alias("s")]
        for i, obj in enumerate(shape.objects):
            if isinstance(obj, Var):
                columns.append(pl.col(obj.name).alias(f"c{i}"))
            else:
                columns.append(pl.lit(self.terms.encode_one(obj.term), ID).alias(f"c{i}"))
        rows = frame.select(columns).unique()
        if self._fresh_from is None:
            accepted = pl.Series([False] * rows.height)
        else:
            accepted = (rows["s"] >= self._fresh_from) & rows["s"].is_unique()
        table.add(rows.filter(accepted))
        new = int(accepted.sum()) * (len(shape.classes) + len(shape.predicates))
        rest = rows.filter(~accepted)
        if rest.height:
            new += self._entity_rows_to_triples(table, rest)
        return new

    def _entity_rows_to_triples(self, table: EntityTable, rows: pl.DataFrame) -> int:
        added = 0
        for member in table.classes:
            added += self.relation(RelKey("c", member, 1)).add(rows.select("s"), self._fresh_from)
        for member in table.predicates:
            part = rows.select("s", pl.col(table.column_of(member)).alias("o"))
            added += self.relation(RelKey("p", member)).add(part, self._fresh_from)
        return added

    def _reconcile_entities(self) -> None:
        """Keep the entity-table invariant at the end of a round: a subject has one row in one
        table, and no other fact of that table's predicates or classes."""
        pending = {t: t.settle_pending() for t in self.entities.values() if t.sizes["pending"]}
        if pending:  # two rows for one subject, from one table's evaluations or two tables'
            subjects = pl.concat([rows.select("s") for rows in pending.values()])["s"]
            twice = subjects.filter(subjects.is_duplicated()).unique()
            if twice.len():
                for table in pending:
                    self._evict(table, twice)
        for rel in self.relations.values():
            if not rel.entities or not rel.sizes["pending"]:
                continue
            for table in rel.entities:
                if table.lowest is None:
                    continue
                mine = pl.concat([table.view("full"), table.view("pending")])
                facts = rel.pending_frame()
                hits = facts.join(mine.select("s"), left_on=facts.columns[0], right_on="s", how="semi")
                if hits.height == 0:
                    continue
                if rel.key.kind == "c":
                    rel.drop_pending(hits)  # the row already says so
                    continue
                column = table.column_of(rel.member)
                stored = mine.select("s", pl.col(column).alias("o"))
                same = hits.join(stored, on=["s", "o"], how="semi")
                rel.drop_pending(same)
                other = hits.join(stored, on=["s", "o"], how="anti")
                if other.height:
                    self._evict(table, other["s"])

    def _evict(self, table: EntityTable, subjects: pl.Series) -> None:
        """Turn the rows of ``subjects`` back into triples (as facts of the next round)."""
        removed = table.evict(subjects)
        for rel in self.relations.values():
            if table in rel.entities:
                rel.invalidate()
        for rows in removed.values():
            self._entity_rows_to_triples(table, rows)

    # --- program --------------------------------------------------------------------------
    def run(self, plan: ProgramPlan, progress: ProgressFn | None = None) -> RunStats:
        # The program's objects live as long as the run (a rule file may hold 100k facts):
        # frozen, they are not traversed by every commit's collection.
        gc.freeze()
        try:
            self.stats.rounds += run_fixpoint(self, plan, self.limits, progress)
        finally:
            gc.unfreeze()
        return self.stats

    # --- the fixpoint driver's hooks (fincrime.engine.fixpoint) -------------------------------
    def prepare(self, plan: ProgramPlan) -> None:
        self._plan_entities(plan)
        self.load_facts(plan)

    def begin_round(self, recursive: bool) -> None:
        # terms minted from here on are this round's: the stale-variable filters and the
        # entity tables' "new subject" test read these bounds
        self._prev_fresh_from = (self._fresh_from or 0) if recursive else 0
        self._fresh_from = len(self.terms)
        self._in_recursion = recursive

    def watched(self, stratum) -> list[RelKey]:  # type: ignore[no-untyped-def]
        return stratum.watched_keys(self.relations)

    def has_delta(self, rule: RulePlan, atom: int) -> bool:
        return self._delta_size(atom_key(rule.body.atoms[atom])) > 0

    def evaluate(self, rule: RulePlan, changed: list[int] | None) -> None:
        for k in (None,) if changed is None else changed:  # one variant per changed recursive atom
            self._evaluate(rule, k)

    def fact_count(self) -> int:
        return sum(len(r) for r in self.relations.values())

    def _matching_keys(self, key: RelKey) -> list[RelKey]:
        return matching_keys(key, self.relations)

    def _delta_size(self, key: RelKey) -> int:
        return self._size(key, "delta")

    def _size(self, key: RelKey, mode: str) -> int:
        overlay = self.stars.overlay.get(key)
        if overlay is not None:
            return overlay.size(mode)
        return sum(self.relations[k].size(mode) for k in self._matching_keys(key) if k in self.relations)

    # --- rule evaluation --------------------------------------------------------------------
    def _evaluate(self, rp: RulePlan, delta_at: int | None) -> None:
        started = time.perf_counter()
        st = self.stats.rules.setdefault(rp.index, RuleStats(rp.rule.label(), rp.rule.text))

        def insert(frame: pl.DataFrame) -> None:
            st.fired += frame.height
            frame = self.evaluator.valid_heads(rp.rule, frame)
            in_shape: set[int] = set()
            for shape, table in self._shapes.get(rp.index, ()):
                st.derived += self._insert_entity(shape, table, frame)
                in_shape |= set(shape.atoms)
            for i, head in enumerate(rp.head):
                if i not in in_shape:
                    st.derived += self._insert_head(head, frame)

        self.evaluate_body(rp.body, delta_at, self._base_for(rp), recursive=rp.recursive_atoms, sink=insert)
        st.evaluations += 1
        self.stars.reset()
        st.seconds += time.perf_counter() - started

    def evaluate_body(
        self,
        body: BodyPlan,
        delta_at: int | None,
        base: str | None,
        seed: pl.DataFrame | None = None,
        recursive: list[int] | None = None,
        sink: Callable[[pl.DataFrame], None] | None = None,
    ) -> pl.DataFrame | None:
        """The body's answers; with ``sink``, they are handed to it in parts instead (each
        star branch, each slice of a large first scan) and None is returned, so a round's
        answers are never all in memory at once."""
        modes = Variant.at(len(body.atoms), delta_at).modes
        rec = frozenset(recursive or ())
        branches = self.stars.branches(body, modes, rec)
        if branches is None:
            return self._evaluate_variant(body, modes, rec, base, seed, sink)
        if sink is not None:
            for b in branches:
                self._evaluate_variant(b.body, b.modes, b.recursive, base, seed, sink)
            return None
        frames = [self._evaluate_variant(b.body, b.modes, b.recursive, base, seed) for b in branches]
        found = [f for f in frames if f is not None and f.height]
        if not found:
            return next((f for f in frames if f is not None), None)
        if len(found) == 1:
            return found[0]
        columns = found[0].columns
        return pl.concat([f.select(columns) for f in found], how="vertical_relaxed")

    def _evaluate_variant(
        self, body: BodyPlan, modes: tuple[str, ...], recursive: frozenset[int], base: str | None,
        seed: pl.DataFrame | None, sink: Callable[[pl.DataFrame], None] | None = None,
    ) -> pl.DataFrame | None:
        outer = frozenset(seed.columns) if seed is not None else frozenset()
        steps = schedule(body, Variant(modes), self._size, outer)
        stale = self._stale_vars(body, modes, recursive)
        frame = seed
        if frame is None and steps and steps[0].op not in ("scan", "agg"):
            frame = _unit(1)  # a body of BINDs and FILTERs only: evaluate them once
        if sink is None or not steps:
            return self._run_steps(steps, 0, body, frame, base, stale)
        # Every step after the first works row by row on the frame: a large first scan is
        # evaluated in slices, each slice's answers go to the sink before the next is made.
        frame = self._run_steps(steps[:1], 0, body, frame, base, stale)
        if frame is not None and frame.height:
            for start in range(0, frame.height, SLICE_ROWS):
                out = self._run_steps(steps, 1, body, frame.slice(start, SLICE_ROWS), base, stale)
                if out is not None and out.height:
                    sink(out)
        return None

    def _run_steps(
        self, steps: list[Step], first: int, body: BodyPlan, frame: pl.DataFrame | None, base: str | None,
        stale: list[str],
    ) -> pl.DataFrame | None:
        done: set[int] = set()
        for n in range(first, len(steps)):
            if n in done:
                continue
            step = steps[n]
            ranged = self._range_step(steps, n, body, frame) if step.op == "join" else None
            if ranged is not None:
                frame, filter_at = ranged
                done.add(filter_at)
            else:
                frame = self._step(step, body, frame, base)
            if stale and step.mode == "delta" and frame is not None:
                frame = frame.filter(pl.all_horizontal([pl.col(v) < self._prev_fresh_from for v in stale]))
            if frame is not None and frame.height == 0:
                return frame
        return frame

    def _stale_vars(self, body: BodyPlan, modes: tuple[str, ...], recursive: frozenset[int]) -> list[str]:
        """Variables of the delta atom that must hold terms older than the last round.

        A delta fact was derived in the last round, so it may hold terms minted then; the facts
        an ``old`` atom reads, and those of relations from lower strata, were all there before
        that round and cannot hold such terms. Rows of the delta whose value for a variable
        shared with such an atom is new can therefore never join: dropping them first turns most
        semi-naive variants of rules over freshly minted nodes into no-ops.
        """
        if "delta" not in modes:
            return []
        delta_at = modes.index("delta")
        delta_vars = body.atoms[delta_at].variables()
        stale: set[str] = set()
        for j, atom in enumerate(body.atoms):
            if j != delta_at and (modes[j] == "old" or j not in recursive):
                stale |= atom.variables() & delta_vars
        return sorted(stale)

    def _join_right(self, step: Step, body: BodyPlan, frame: pl.DataFrame | None) -> pl.DataFrame:
        """The facts a scan or join step reads, semi-joined with its reducers."""
        mode = step.mode
        if mode == "full" and frame is not None and step.on and frame.height and self._prev_fresh_from:
            # Keys all minted in the last round: their facts were all derived in that round,
            # so the delta holds every match and the (much larger) full relation is not read.
            lowest = frame.select(pl.min_horizontal([pl.col(v).min() for v in step.on])).item()
            if lowest is not None and lowest >= self._prev_fresh_from and self._in_recursion:
                mode = "delta"
        right = self.atom_frame(body.atoms[step.atom], mode)
        for j, j_mode in step.reducers:
            shared = sorted(body.atoms[j].variables() & set(right.columns))
            if shared and right.height:
                keys = self.atom_frame(body.atoms[j], j_mode).select(shared).unique()
                right = right.join(keys, on=shared, how="semi")
        return right

    def _range_step(self, steps: list[Step], n: int, body: BodyPlan, frame: pl.DataFrame | None) -> tuple[pl.DataFrame, int] | None:
        """A join followed by a FILTER comparing a variable of each side, done as one range
        join (see :mod:`.rangejoin`) when both sides hold values of one ordered kind."""
        step = steps[n]
        if frame is None or not step.on or frame.height < RANGE_MIN_ROWS:
            return None
        new_vars = body.atoms[step.atom].variables() - set(frame.columns)
        for k in range(n + 1, len(steps)):
            if steps[k].op != "filter":
                break
            expr = steps[k].expr
            if not (isinstance(expr, ECall) and expr.op in RANGE_OPERATORS and len(expr.args) == 2
                    and all(isinstance(a, EVar) for a in expr.args)):
                continue
            a, b = (arg.name for arg in expr.args)  # type: ignore[union-attr]
            op = expr.op
            if a in new_vars and b in frame.columns:
                a, b, op = b, a, RANGE_FLIPPED[op]
            if not (a in frame.columns and b in new_vars):
                continue
            atom = body.atoms[step.atom]
            source = self.stars.overlay.get(atom_key(atom))
            stable = source.stable if source is not None and step.mode == "full" else None
            cache_key = (id(stable), atom.args, b, tuple(step.on)) if stable is not None else None
            cached = self._sorted_right.get(cache_key) if cache_key else None
            if cached is not None and cached[0] is stable:
                attr, prepared = cached[1], cached[2]
                if self._ordered_attribute(frame[a], None) != attr:
                    return None
            else:
                right = self._join_right(step, body, frame)
                attr = self._ordered_attribute(frame[a], right[b])
                if attr is None:
                    return None
                right = right.with_columns(self.terms.attribute(attr).gather(right[b]).alias("__rr"))
                prepared = sort_right(right, list(step.on), "__rr")
                if cache_key is not None:  # the same unchanging star, every round: sort it once
                    self._sorted_right = {cache_key: (stable, attr, prepared)}
            left = frame.with_columns(self.terms.attribute(attr).gather(frame[a]).alias("__rl"))
            joined = range_join(left, prepared, list(step.on), "__rl", op, "__rr", a, b)
            return joined.drop("__rl", "__rr"), k
        return None

    def _ordered_attribute(self, left: pl.Series, right: pl.Series | None) -> str | None:
        """The attribute by which the FILTER would compare the two columns' values, when every
        value of both is a date/dateTime (``time``) or every value an integer below 2**53
        (``num``); None otherwise (the FILTER's own type dispatch is then needed)."""
        tclass = self.terms.attribute("tclass")
        columns = [left] if right is None else [left, right]
        classes = set().union(*(set(tclass.gather(c).unique().to_list()) for c in columns))
        if classes and classes <= TIME_CLASSES:
            return "time"
        if classes == {INTEGER_CLASS}:
            num = self.terms.attribute("num")
            largest = max((num.gather(c).abs().max() or 0) for c in columns)  # type: ignore[type-var]
            return "num" if largest < 2**53 else None
        return None

    def _step(self, step: Step, body: BodyPlan, frame: pl.DataFrame | None, base: str | None) -> pl.DataFrame:
        if step.op in ("scan", "join"):
            right = self._join_right(step, body, frame)
            if frame is None:
                return right
            if right.height == 0:
                return right.join(frame, how="cross") if not step.on else frame.clear()
            return frame.join(right, on=list(step.on), how="inner") if step.on else frame.join(right, how="cross")
        assert frame is not None or step.op == "agg"
        if step.op in ("filter", "bind") and frame is not None:
            memo = self._memoized(step, body, frame, base)
            if memo is not None:
                return memo
        if step.op == "filter":
            assert frame is not None and step.expr is not None
            return self.evaluator.filter(frame, step.expr, base)
        if step.op == "bind":
            assert frame is not None and step.expr is not None
            ids = self.eval_to_ids(frame, step.expr, base)
            if step.var in frame.columns:
                return frame.filter(pl.Series(ids) == pl.col(step.var))
            return frame.with_columns(ids.rename(step.var)).filter(pl.col(step.var).is_not_null())
        if step.op == "anti":
            assert frame is not None and step.negation is not None
            return self._anti(frame, step.negation, list(step.on), base)
        if step.op == "agg":
            assert step.aggregate is not None
            agg = self._aggregate(step.aggregate, base)
            if frame is None:
                return agg
            return frame.join(agg, on=list(step.on), how="inner") if step.on else frame.join(agg, how="cross")
        raise AssertionError(step.op)

    def _memoized(self, step: Step, body: BodyPlan, frame: pl.DataFrame, base: str | None) -> pl.DataFrame | None:
        """A FILTER or BIND over many rows but few distinct inputs (a chain's length, a
        parameter) is evaluated once per distinct input and joined back."""
        assert step.expr is not None
        variables = sorted(expr_vars(step.expr))
        if (
            frame.height < MEMO_MIN_ROWS or not variables or step.var in frame.columns
            or _calls(step.expr) & NONDETERMINISTIC
        ):
            return None
        packed = _packed_key(variables)
        inputs = frame.select(packed.alias("__key")) if packed is not None else frame.select(variables)
        sample = inputs.gather_every(max(1, frame.height // MEMO_SAMPLE))
        if sample.n_unique() * MEMO_RATIO > sample.height:
            return None
        if packed is not None:
            keys = frame.select(*variables, packed.alias("__key")).unique(subset="__key")
        else:
            keys = inputs.unique()
        if keys.height * MEMO_RATIO > frame.height:
            return None
        done = self._step(step, body, keys, base)
        if packed is None:
            if step.op == "filter":
                return frame.join(done.select(variables), on=variables, how="semi")
            return frame.join(done.select(*variables, step.var), on=variables, how="inner")
        if step.op == "filter":
            return frame.filter(packed.is_in(done.select(packed)[:, 0].implode()))
        mapping = done.select(packed.alias("__key"), step.var)
        return frame.with_columns(packed.alias("__key")).join(mapping, on="__key", how="inner").drop("__key")

    def _anti(self, frame: pl.DataFrame, neg: NegationPlan, on: list[str], base: str | None) -> pl.DataFrame:
        seed = frame.select(on).unique() if on else None
        matched = self.evaluate_body(neg.body, None, base, seed)
        if matched is None or matched.height == 0:
            return frame
        if not on:
            return frame.clear()
        return frame.join(matched.select(on).unique(), on=on, how="anti")

    # --- atoms --------------------------------------------------------------------------------
    def _const_id(self, term: str) -> int | None:
        return self.terms.lookup_one(term)

    def atom_frame(self, atom: Atom, mode: str) -> pl.DataFrame:
        """The facts matching an atom, as a frame with one column per distinct variable."""
        key = atom_key(atom)
        args: list = list(atom.args)  # type: ignore[type-arg]
        if not is_stored(key):  # a union of stored relations: every column spelled out
            frame = self._union(key, mode)
            names = ["s", "p", "o", "g"] if key.graph == ANY_GRAPH else ["s", "p", "o"]
            if key.graph == ANY_GRAPH:
                args.append(atom.graph)
        elif key.kind == "t":
            frame = self._view(key, mode)
            names = list(frame.columns)
        elif key.kind == "c":
            frame = self._view(key, mode)
            names, args = ["s"], [atom.args[0]]
        else:
            frame = self._view(key, mode)
            names, args = ["s", "o"], [atom.args[0], atom.args[2]]
        constants, repeats, first_col = match_columns(names, args)
        conds = [pl.col(a) == pl.col(b) for a, b in repeats]
        for col, term in constants:
            cid = self._const_id(term)
            if cid is None:
                return pl.DataFrame(schema={v: ID for v in atom.variables()})
            conds.append(pl.col(col) == cid)
        if conds:
            frame = frame.filter(pl.all_horizontal(conds))
        if not first_col:  # a ground atom: one row when the fact holds (a frame needs a column)
            return _unit(1 if frame.height else 0)
        return frame.select([pl.col(c).alias(v) for v, c in first_col.items()])

    def _view(self, key: RelKey, mode: str) -> pl.DataFrame:
        overlay = self.stars.overlay.get(key)
        if overlay is not None:
            return overlay.frame(mode)
        rel = self.relations.get(key)
        if rel is None:
            return Relation(key).empty()
        return rel.view(mode)

    def _union(self, key: RelKey, mode: str) -> pl.DataFrame:
        """The stored relations an atom of ``key`` reads, as ``s, p, o, g`` id columns."""
        parts = []
        for k in matching_keys(key, self.relations):
            rel = self.relations[k]
            gid = pl.lit(self.terms.encode_one(k.graph) if k.graph else None, ID).alias("g")
            name = pl.lit(self.terms.encode_one(k.name), ID)
            if k.kind == "c":
                parts.append(rel.view(mode).select("s", pl.lit(self.type_id, ID).alias("p"), name.alias("o"), gid))
            else:
                parts.append(rel.view(mode).select("s", name.alias("p"), "o", gid))
        if not parts:
            return pl.DataFrame(schema={"s": ID, "p": ID, "o": ID, "g": ID})
        return pl.concat(parts)

    def _insert_head(self, head: Atom, frame: pl.DataFrame) -> int:
        cols = []
        for i, arg in enumerate(head.args):
            name = f"a{i}"
            if isinstance(arg, Var):
                cols.append(pl.col(arg.name).alias(name))
            else:
                cols.append(pl.lit(self.terms.encode_one(arg.term), ID).alias(name))
        if isinstance(head.graph, Var):
            cols.append(pl.col(head.graph.name).alias("g"))
        elif isinstance(head.graph, Const):
            cols.append(pl.lit(self.terms.encode_one(head.graph.term), ID).alias("g"))
        rows = frame.select(cols)
        key = atom_key(head)
        if not is_stored(key):  # the predicate, class or graph is a variable: route by value
            before = sum(len(r) for r in self.relations.values())
            spo = [pl.col("a0").alias("s"), pl.col("a1").alias("p"), pl.col("a2").alias("o")]
            self.add_triples(rows.select(*spo, *(["g"] if head.graph is not None else [])))
            return sum(len(r) for r in self.relations.values()) - before
        if key.kind == "t":
            return self.relation(key).add(rows.rename({f"a{i}": f"c{i}" for i in range(len(head.args))}), self._fresh_from)
        if key.kind == "c":
            return self.relation(key).add(rows.select(pl.col("a0").alias("s")), self._fresh_from)
        return self.relation(key).add(rows.select(pl.col("a0").alias("s"), pl.col("a2").alias("o")), self._fresh_from)

    # --- expressions (evaluated by the evaluation module) ---------------------------------------
    def eval_to_ids(self, frame: pl.DataFrame, expr, base: str | None) -> pl.Series:  # type: ignore[no-untyped-def]
        """Evaluate an expression per row and return term ids (null where it errs)."""
        return self.evaluator.ids(frame, expr, base)

    def _aggregate(self, agg: AggregatePlan, base: str | None) -> pl.DataFrame:
        return self.evaluator.aggregate(agg, self.evaluate_body(agg.body, None, base), base)


def _unit(rows: int) -> pl.DataFrame:
    """A frame of ``rows`` empty bindings (a helper column, ignored by heads)."""
    return pl.DataFrame({"__unit": [0] * rows}, schema={"__unit": ID})


