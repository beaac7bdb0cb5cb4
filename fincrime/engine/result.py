"""What a materialization produced: derived triples, counts and timings."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from pathlib import Path

import polars as pl

from fincrime.engine.memory.executor import MemoryExecutor, RunStats
from fincrime.rdf import is_nquads, write_ntriples
from fincrime.rdf.tables import write_table_set
from fincrime.rules.plan import TYPE_IRI, RelKey


class TripleResult(ABC):
    """What every executor returns: derived triples, counts and ``timings`` (seconds per phase).

    Derived triples are those not among the input triples (rule-file facts included), each a
    tuple of canonical N-Triples term strings.
    """

    timings: dict[str, float]
    skipped: dict[tuple[str, str], int]

    @abstractmethod
    def triples(self, derived_only: bool = True) -> Iterator[tuple[str, str, str]]: ...

    @abstractmethod
    def write_ntriples(self, path: str | os.PathLike[str], derived_only: bool = True) -> int: ...

    @abstractmethod
    def counts_by_class(self, derived_only: bool = True) -> dict[str, int]: ...

    @abstractmethod
    def counts_by_predicate(self, derived_only: bool = True) -> dict[str, int]: ...

    @abstractmethod
    def count(self, derived_only: bool = True) -> int: ...

    @abstractmethod
    def write(self, path: str | os.PathLike[str]) -> int:
        """Write the derived triples: N-Triples (``.nt``), gzip N-Triples (``.nt.gz``) or a
        Parquet table set (a ``.parquet`` folder, see :mod:`fincrime.rdf.tables`)."""

    @abstractmethod
    def context(self, results: pl.DataFrame, classes: Iterable[str] = ()) -> pl.DataFrame:
        """The input triples about the nodes ``results`` mention (subjects and objects that are
        IRIs or blank nodes, not classes), and about the members of the input ``classes``: what
        a reader of the results needs besides them (a chain's parties' names, its transfers'
        amounts and dates; the ground truth's attempts). ``s, p, o`` terms."""

    @abstractmethod
    def results(self, intermediate: Iterable[str] = ()) -> pl.DataFrame:
        """The derived triples worth keeping: those about derived subjects that are not
        *intermediate* (their derived classes all in ``intermediate``, class IRIs as N-Triples
        terms), and about the derived subjects those facts lead to (a suspicious chain and the
        chains it extends). ``s, p, o`` terms."""


class Result(TripleResult):
    """Facts after reasoning. Input facts come first in every relation, so the derived facts
    of a relation are the rows after its input rows."""

    def __init__(self, executor: MemoryExecutor, input_rows: dict[RelKey, int], timings: dict[str, float]) -> None:
        self.executor = executor
        self.skipped = executor.evaluator.skipped  # derived rows not written: invalid N-Triples, by (rule, reason)
        self._input_rows = input_rows
        self.timings = timings

    @property
    def stats(self) -> RunStats:
        return self.executor.stats

    def _frames(self, derived_only: bool, own: bool = False, graphs: bool = False) -> Iterator[tuple[RelKey, pl.DataFrame]]:
        """Facts by relation; ``own``: without those of entity tables; ``graphs``: also the
        relations of named graphs (the default graph's only, otherwise)."""
        for key in sorted(self.executor.relations, key=lambda k: (k.graph, k.kind, k.name)):
            if key.graph and not graphs:
                continue
            rel = self.executor.relations[key]
            frame = rel.own_view("full") if own else rel.view("full")
            if derived_only:
                frame = frame.slice(self._input_rows.get(key, 0))
            if frame.height:
                yield key, frame

    def _entity_tables(self):  # type: ignore[no-untyped-def]
        return [t for t in self.executor.entities.values() if t.size("full")]

    def _canonical(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows ordered by their terms (the same order in every run)."""
        ranks = self.executor.terms.ranks()
        keys = [ranks.gather(frame[c]).alias(f"__r{i}") for i, c in enumerate(frame.columns)]
        return frame.with_columns(keys).sort([k.name for k in keys]).select(frame.columns)

    def entity_frames(self, batch: int = 500_000, ranked: bool = False) -> Iterator[tuple[str, tuple[str, ...], pl.DataFrame]]:
        """``(name, classes, frame)`` per entity table, in batches of rows ordered by subject:
        column ``s`` then one per predicate, named by the predicate term; decoded terms, or
        with ``ranked`` the terms' numbers in :meth:`TermDictionary.ranked_terms`."""
        terms = self.executor.terms
        ranks = terms.ranks()
        for table in self._entity_tables():
            view = table.view("full")
            if ranked:
                view = view.select([ranks.gather(view[c]).alias(c) for c in view.columns]).sort("s")
            else:
                view = view.with_columns(ranks.gather(view["s"]).alias("__r")).sort("__r").drop("__r")
            for start in range(0, view.height, batch):
                part = view.slice(start, batch)
                columns = {"s": part["s"] if ranked else terms.decode(part["s"])}
                for predicate in table.predicates:
                    column = part[table.column_of(predicate)]
                    columns[predicate] = column if ranked else terms.decode(column)
                yield table.name, table.classes, pl.DataFrame(columns)

    def _ranked_triples(self, batch: int = 1_000_000) -> Iterator[pl.DataFrame]:
        """Derived triples outside entity tables as ``s, p, o`` term numbers (see
        :meth:`entity_frames`), in canonical order."""
        terms = self.executor.terms
        parts = [(key, frame, terms.encode_one(TYPE_IRI if key.kind == "c" else key.name), terms.encode_one(key.name))
                 for key, frame in self._frames(True, own=True) if key.kind != "t"]
        ranks = terms.ranks()  # after the encodings above: every id has its rank
        for key, frame, pid, cid in parts:
            s = ranks.gather(frame["s"])
            p = pl.repeat(ranks[pid], frame.height, dtype=pl.UInt32, eager=True)
            if key.kind == "c":
                o = pl.repeat(ranks[cid], frame.height, dtype=pl.UInt32, eager=True)
            else:
                o = ranks.gather(frame["o"])
            ranked = pl.DataFrame({"s": s, "p": p, "o": o}).sort("s", "o")
            for start in range(0, ranked.height, batch):
                yield ranked.slice(start, batch)

    def write(self, path: str | os.PathLike[str]) -> int:
        started = time.perf_counter()
        if str(path).endswith(".parquet"):
            # Terms once, facts as numbers: a chain's IRIs and literals are not spelled out per
            # row (on 4M chains about 5x smaller and 20x faster to write than decoded columns)
            terms = self.executor.terms
            for key, _ in self._frames(True, own=True):  # every term written needs an id, then ranks
                terms.encode_one(key.name)
            terms.encode_one(TYPE_IRI)
            count = write_table_set(path, self.entity_frames(ranked=True), self._ranked_triples(), terms.ranked_terms())
        else:
            count = write_ntriples(Path(path), self.frames(True))
        self.timings["write"] = time.perf_counter() - started
        return count

    def results(self, intermediate: Iterable[str] = ()) -> pl.DataFrame:
        started = time.perf_counter()
        ids = self._selected_subjects(set(intermediate))
        frames = []
        for key, frame in self._frames(True, own=True):
            if key.kind == "t":
                continue
            hit = frame.join(ids, left_on="s", right_on="id", how="semi")
            if hit.height:
                frames.append(self._decode(key, hit))
        terms = self.executor.terms
        for table in self._entity_tables():
            rows = table.view("full").join(ids, left_on="s", right_on="id", how="semi")
            if rows.height == 0:
                continue
            subjects = terms.decode(rows["s"])
            for cls in table.classes:
                frames.append(pl.DataFrame({"s": subjects, "p": [TYPE_IRI] * rows.height, "o": [cls] * rows.height},
                                           schema={"s": pl.String, "p": pl.String, "o": pl.String}))
            for predicate in table.predicates:
                frames.append(pl.DataFrame({
                    "s": subjects, "p": pl.Series([predicate] * rows.height, dtype=pl.String),
                    "o": terms.decode(rows[table.column_of(predicate)]),
                }))
        self.timings["select"] = time.perf_counter() - started
        if not frames:
            return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
        return pl.concat(frames)

    def context(self, results: pl.DataFrame, classes: Iterable[str] = ()) -> pl.DataFrame:
        started = time.perf_counter()
        terms = self.executor.terms
        mentioned = results.filter(pl.col("p") != TYPE_IRI).select(
            pl.concat([results["s"], results.filter(pl.col("p") != TYPE_IRI)["o"]]).alias("t")
        ) if results.height else pl.DataFrame(schema={"t": pl.String})
        nodes = mentioned.filter(pl.col("t").str.starts_with("<") | pl.col("t").str.starts_with("_:")).unique()
        ids = terms.lookup(nodes["t"]).drop_nulls().rename("id").to_frame()
        wanted = set(classes)
        for key, rel in self.executor.relations.items():
            if key.kind == "c" and key.name in wanted:
                ids = pl.concat([ids, rel.own_view("full").head(self._input_rows.get(key, 0)).select(pl.col("s").alias("id"))])
        ids = ids.unique()
        frames = []
        for key in sorted(self.executor.relations, key=lambda k: (k.kind, k.name)):
            if key.kind == "t":
                continue
            inputs = self.executor.relations[key].own_view("full").head(self._input_rows.get(key, 0))
            hit = inputs.join(ids, left_on="s", right_on="id", how="semi")
            if hit.height:
                frames.append(self._decode(key, hit))
        self.timings["context"] = time.perf_counter() - started
        if not frames:
            return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
        return pl.concat(frames)

    def _selected_subjects(self, intermediate: set[str]) -> pl.DataFrame:
        """Ids of the subjects whose derived facts :meth:`results` keeps."""
        id_frame = lambda series: series.rename("id").to_frame()  # noqa: E731
        inter_parts, seed_parts = [], []
        for key, frame in self._frames(True, own=True):
            if key.kind == "t":
                continue
            (inter_parts if key.kind == "c" and key.name in intermediate else seed_parts).append(id_frame(frame["s"]))
        for table in self._entity_tables():
            subjects = id_frame(table.view("full")["s"])
            if any(c not in intermediate for c in table.classes) or not (set(table.classes) & intermediate):
                seed_parts.append(subjects)
            else:
                inter_parts.append(subjects)
        empty = pl.DataFrame(schema={"id": pl.UInt32})
        inter = pl.concat(inter_parts).unique() if inter_parts else empty
        seeds = pl.concat(seed_parts).unique() if seed_parts else empty
        # a subject with an intermediate class is a seed only through a class that is not
        seeds_no_class = seeds.join(inter, on="id", how="anti")
        other_class = [id_frame(f["s"]) for k, f in self._frames(True, own=True) if k.kind == "c" and k.name not in intermediate]
        other_class += [id_frame(t.view("full")["s"]) for t in self._entity_tables() if any(c not in intermediate for c in t.classes)]
        chosen = pl.concat([seeds_no_class, *other_class]).unique() if other_class else seeds_no_class
        frontier = chosen
        while frontier.height:
            reached = []
            for key, frame in self._frames(True, own=True):
                if key.kind == "p":
                    reached.append(frame.join(frontier, left_on="s", right_on="id", how="semi").select(pl.col("o").alias("id")))
            for table in self._entity_tables():
                rows = table.view("full").join(frontier, left_on="s", right_on="id", how="semi")
                reached += [rows.select(pl.col(table.column_of(p)).alias("id")) for p in table.predicates]
            if not reached:
                break
            frontier = pl.concat(reached).unique().join(inter, on="id", how="semi").join(chosen, on="id", how="anti")
            chosen = pl.concat([chosen, frontier])
        return chosen

    def _decode(self, key: RelKey, frame: pl.DataFrame) -> pl.DataFrame:
        terms = self.executor.terms
        if key.kind == "c":
            return self._in_graph(key, pl.DataFrame({
                "s": terms.decode(frame["s"]),
                "p": pl.Series([TYPE_IRI] * frame.height, dtype=pl.String),
                "o": pl.Series([key.name] * frame.height, dtype=pl.String),
            }))
        if key.kind == "p":
            return self._in_graph(key, pl.DataFrame({
                "s": terms.decode(frame["s"]),
                "p": pl.Series([key.name] * frame.height, dtype=pl.String),
                "o": terms.decode(frame["o"]),
            }))
        raise ValueError("tuple tables are not triples")

    @staticmethod
    def _in_graph(key: RelKey, triples: pl.DataFrame) -> pl.DataFrame:
        return triples.with_columns(pl.lit(key.graph, pl.String).alias("g")) if key.graph else triples

    def quads(self, derived_only: bool = True) -> Iterator[tuple[str, str, str, str | None]]:
        """Facts of every graph as ``(s, p, o, g)``; ``g`` is None in the default graph."""
        for key, frame in self._frames(derived_only, graphs=True):
            if key.kind == "t":
                continue
            for row in self._decode(key, frame).iter_rows():
                yield (*row[:3], key.graph or None)

    def counts_by_graph(self, derived_only: bool = True) -> dict[str, int]:
        """Facts per named graph (the default graph is ``""``)."""
        out: dict[str, int] = {}
        for key, frame in self._frames(derived_only, graphs=True):
            if key.kind != "t":
                out[key.graph] = out.get(key.graph, 0) + frame.height
        return out

    def triples(self, derived_only: bool = True) -> Iterator[tuple[str, str, str]]:
        """Triples as canonical N-Triples term strings."""
        for key, frame in self._frames(derived_only):
            if key.kind == "t":
                continue
            yield from self._decode(key, frame).iter_rows()

    def triples_frame(self, derived_only: bool = True) -> pl.DataFrame:
        frames = [self._decode(k, f) for k, f in self._frames(derived_only) if k.kind != "t"]
        if not frames:
            return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
        return pl.concat(frames)

    def tuples(self, table: str) -> list[tuple[str, ...]]:
        """Rows of an n-ary tuple table, decoded."""
        out: list[tuple[str, ...]] = []
        for key, frame in self._frames(False):
            if key.kind == "t" and key.name == table:
                cols = [self.executor.terms.decode(frame[c]) for c in frame.columns]
                out += list(zip(*(c.to_list() for c in cols), strict=True))
        return out

    def frames(self, derived_only: bool = True, batch: int = 1_000_000, graphs: bool = False) -> Iterator[pl.DataFrame]:
        """Decoded ``s, p, o`` frames of at most ``batch`` triples: memory stays bounded by
        the batch, not by the number of derived triples. ``graphs``: also the named graphs'
        facts, with a ``g`` column (null for the default graph)."""
        for key, frame in self._frames(derived_only, graphs=graphs):
            if key.kind == "t":
                continue
            frame = self._canonical(frame)
            for start in range(0, frame.height, batch):
                part = self._decode(key, frame.slice(start, batch))
                yield part.with_columns(pl.lit(None, pl.String).alias("g")) if graphs and not key.graph else part

    def write_ntriples(self, path: str | os.PathLike[str], derived_only: bool = True) -> int:
        """Write the (derived) triples as N-Triples, atomically and streaming; the time goes to
        ``timings['write']``. A ``.nq`` / ``.nq.gz`` name writes N-Quads: the named graphs too."""
        started = time.perf_counter()
        count = write_ntriples(Path(path), self.frames(derived_only, graphs=is_nquads(path)))
        self.timings["write"] = time.perf_counter() - started
        return count

    def counts_by_class(self, derived_only: bool = True) -> dict[str, int]:
        return {
            key.name[1:-1]: frame.height for key, frame in self._frames(derived_only) if key.kind == "c"
        }

    def counts_by_predicate(self, derived_only: bool = True) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, frame in self._frames(derived_only):
            if key.kind == "p":
                out[key.name[1:-1]] = frame.height
            elif key.kind == "c":
                out[TYPE_IRI[1:-1]] = out.get(TYPE_IRI[1:-1], 0) + frame.height
        return out

    def count(self, derived_only: bool = True) -> int:
        return sum(f.height for k, f in self._frames(derived_only) if k.kind != "t")
