"""Relations as Spark DataFrames of canonical term strings, with the semi-naive views.

A relation keeps its input facts, its older derived facts (a few checkpointed chunks) and the
facts of the last round (``delta``); rows derived in a round are queued as ``pending`` and only
become visible when the round is committed. Every committed chunk is checkpointed, so the plan
of a view is a union of a few stored scans, whatever the number of rounds.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from fincrime.engine.atoms import columns_of
from fincrime.engine.spark.values import tclass
from fincrime.rules.plan import RelKey

Checkpoint = Callable[..., DataFrame]  # (frame, eager=True) -> stored frame
MAX_CHUNKS = 6  # derived chunks merged beyond this, so views stay a short union
ROWS_PER_PARTITION = 100_000  # a view is read in at most one partition per this many rows


def union_all(frames: list[DataFrame]) -> DataFrame:
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out


class Relation:
    def __init__(self, key: RelKey, empty: Callable[[tuple[str, ...]], DataFrame]) -> None:
        self.key = key
        self.columns = columns_of(key)
        self._empty = empty
        self.input: DataFrame | None = None
        self.input_rows = 0
        self.derived: list[DataFrame] = []  # older derived chunks
        self.derived_rows = 0
        self.delta: DataFrame | None = None
        self.delta_rows = 0
        self.pending: list[DataFrame] = []
        # per column, the type classes of every stored value (the executor's type hints)
        self.classes: dict[str, frozenset[int]] = {c: frozenset() for c in self.columns}

    def note_classes(self, classes: dict[str, frozenset[int]]) -> None:
        for column, seen in classes.items():
            self.classes[column] = self.classes[column] | seen

    def set_input(self, frame: DataFrame, rows: int) -> None:
        self.input, self.input_rows = frame, rows

    def size(self, mode: str) -> int:
        old = self.input_rows + self.derived_rows
        return {"old": old, "delta": self.delta_rows, "full": old + self.delta_rows}[mode]

    def view(self, mode: str) -> DataFrame:
        """``old``, ``delta``, ``full`` (old + delta) or ``derived`` (everything not input)."""
        chunks: list[DataFrame] = []
        if mode in ("old", "full") and self.input is not None and self.input_rows:
            chunks.append(self.input)
        if mode in ("old", "full", "derived"):
            chunks += self.derived
        if mode in ("delta", "full", "derived") and self.delta is not None and self.delta_rows:
            chunks.append(self.delta)
        if not chunks:
            return self._empty(self.columns)
        # A union has the partitions of all its chunks, and every partition is a task in every
        # stage that reads it: a few rows need one partition, not dozens of near-empty ones.
        rows = self.size(mode) if mode != "derived" else self.derived_rows + self.delta_rows
        return union_all(chunks).coalesce(max(1, -(-rows // ROWS_PER_PARTITION)))

    def add(self, rows: DataFrame) -> None:
        self.pending.append(rows.select(*self.columns))

    def advance(self, checkpoint: Checkpoint) -> DataFrame | None:
        """End of a round, first half: the delta joins the old facts; returns the (lazy) frame
        of the pending rows that are really new, or None when nothing is pending."""
        if self.delta is not None and self.delta_rows:
            self.derived.append(self.delta)
            self.derived_rows += self.delta_rows
            if len(self.derived) > MAX_CHUNKS:
                self.derived = [checkpoint(union_all(self.derived))]
        self.delta, self.delta_rows = None, 0
        if not self.pending:
            return None
        new = union_all(self.pending).distinct()
        self.pending = []
        if self.size("full"):
            new = new.join(self.view("full"), on=list(self.columns), how="left_anti")
        return new

    def set_delta(self, frame: DataFrame, rows: int) -> None:
        """End of a round, second half: the stored new facts become the delta."""
        self.delta, self.delta_rows = frame, rows


def commit_all(relations: list[Relation], checkpoint: Checkpoint) -> dict[RelKey, int]:
    """Commit a round of every relation with one stored frame and one count: the new facts of
    all relations, tagged by relation, are checkpointed together (one Spark job, not one per
    relation), and each relation's delta is its slice of that frame."""
    new = [(rel, frame) for rel in relations if (frame := rel.advance(checkpoint)) is not None]
    out = {rel.key: 0 for rel in relations}
    if not new:
        return out
    tagged, width = _tagged(new)
    stored = checkpoint(tagged, eager=False)  # stored by the statistics job, the round's one job
    stats = _stats(stored, "__k", [f"__c{j}" for j in range(width)])
    for i, (rel, _) in enumerate(new):
        rows, classes = stats.get(i, (0, {}))
        rel.note_classes({c: classes.get(f"__c{j}", frozenset()) for j, c in enumerate(rel.columns)})
        if rows:
            part = stored.filter(F.col("__k") == i).select(
                *[F.col(f"__c{j}").alias(c) for j, c in enumerate(rel.columns)]
            )
            rel.set_delta(part, rows)
        out[rel.key] = rows
    return out


def _tagged(parts: list[tuple[Relation, DataFrame]]) -> tuple[DataFrame, int]:
    """The frames of several relations as one: a tag column ``__k`` and columns ``__c0..``."""
    width = max(len(rel.columns) for rel, _ in parts)
    tagged = union_all([
        frame.select(
            F.lit(i).alias("__k"),
            *[F.col(c).alias(f"__c{j}") for j, c in enumerate(rel.columns)],
            *[F.lit(None).cast("string").alias(f"__c{j}") for j in range(len(rel.columns), width)],
        )
        for i, (rel, frame) in enumerate(parts)
    ])
    return tagged, width


def _stats(frame: DataFrame, tag: str, columns: list[str]) -> dict[int, tuple[int, dict[str, frozenset[int]]]]:
    """Per tag: the row count and, per column, the set of type classes of its values (one job)."""
    aggs = [F.count(F.lit(1)).alias("__n")]
    aggs += [F.collect_set(tclass(c)).alias(c) for c in columns]
    out = {}
    for row in frame.groupBy(tag).agg(*aggs).collect():
        out[int(row[tag])] = (int(row["__n"]), {c: frozenset(row[c]) for c in columns})
    return out


def column_classes(parts: list[tuple[Relation, DataFrame]]) -> list[dict[str, frozenset[int]]]:
    """The type classes of every column of each relation's frame, computed in one job."""
    tagged, width = _tagged(parts)
    stats = _stats(tagged, "__k", [f"__c{j}" for j in range(width)])
    return [
        {c: stats.get(i, (0, {}))[1].get(f"__c{j}", frozenset()) for j, c in enumerate(rel.columns)}
        for i, (rel, _) in enumerate(parts)
    ]
