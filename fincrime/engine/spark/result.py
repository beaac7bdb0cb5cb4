"""What a Spark materialization produced, behind the same interface as the in-memory result."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from fincrime.engine.result import TripleResult
from fincrime.engine.spark.executor import SparkExecutor
from fincrime.engine.spark.io import write_parts, write_single
from fincrime.engine.spark.relations import union_all
from fincrime.engine.spark.session import spark_errors
from fincrime.rdf import is_nquads
from fincrime.rules.plan import TYPE_IRI, RelKey


class SparkResult(TripleResult):
    """Facts after reasoning, held by Spark. Counts are known without running a Spark job;
    triples are read or written by Spark on demand."""

    def __init__(self, executor: SparkExecutor, timings: dict[str, float], local_master: bool) -> None:
        self.executor = executor
        self.skipped = executor.skipped  # derived rows not written: invalid N-Triples, by (rule, reason)
        self.timings = timings
        self._local = local_master

    @property
    def rounds(self) -> int:
        return self.executor.rounds

    def _rows(self, key: RelKey, derived_only: bool) -> int:
        rel = self.executor.relations[key]
        return rel.size("full") - (rel.input_rows if derived_only else 0)

    def frame(self, derived_only: bool = True, graphs: bool = False) -> DataFrame:
        """The (derived) triples as a Spark DataFrame of canonical term strings ``s, p, o``;
        ``graphs``: the named graphs' facts too, with a column ``g`` (null: default graph)."""
        parts = []
        for key in sorted(self.executor.relations, key=lambda k: (k.graph, k.kind, k.name)):
            if key.kind == "t" or not self._rows(key, derived_only) or (key.graph and not graphs):
                continue
            view = self.executor.relations[key].view("derived" if derived_only else "full")
            if key.kind == "c":
                part = view.select("s", F.lit(TYPE_IRI).alias("p"), F.lit(key.name).alias("o"))
            else:
                part = view.select("s", F.lit(key.name).alias("p"), "o")
            parts.append(part.withColumn("g", F.lit(key.graph or None).cast("string")) if graphs else part)
        return union_all(parts) if parts else self.executor.empty(("s", "p", "o", "g") if graphs else ("s", "p", "o"))

    def quads(self, derived_only: bool = True) -> Iterator[tuple[str, str, str, str | None]]:
        """Facts of every graph as ``(s, p, o, g)``; ``g`` is None in the default graph."""
        with spark_errors("reading derived facts"):
            for row in self.frame(derived_only, graphs=True).toLocalIterator():
                yield (row["s"], row["p"], row["o"], row["g"])

    def counts_by_graph(self, derived_only: bool = True) -> dict[str, int]:
        """Facts per named graph (the default graph is ``""``)."""
        out: dict[str, int] = {}
        for key in self.executor.relations:
            if key.kind != "t" and (n := self._rows(key, derived_only)):
                out[key.graph] = out.get(key.graph, 0) + n
        return out

    def _input_frame(self) -> DataFrame:
        parts = []
        for key, rel in sorted(self.executor.relations.items(), key=lambda kv: (kv[0].kind, kv[0].name)):
            if key.kind == "t" or rel.input is None or not rel.input_rows:
                continue
            if key.kind == "c":
                parts.append(rel.input.select("s", F.lit(TYPE_IRI).alias("p"), F.lit(key.name).alias("o")))
            else:
                parts.append(rel.input.select("s", F.lit(key.name).alias("p"), "o"))
        return union_all(parts) if parts else self.executor.empty(("s", "p", "o"))

    def triples(self, derived_only: bool = True) -> Iterator[tuple[str, str, str]]:
        """Triples as canonical N-Triples term strings (streamed from Spark)."""
        with spark_errors("reading derived triples"):
            for row in self.frame(derived_only).toLocalIterator():
                yield (row["s"], row["p"], row["o"])

    def tuples(self, table: str) -> list[tuple[str, ...]]:
        """Rows of an n-ary tuple table."""
        out: list[tuple[str, ...]] = []
        for key, rel in self.executor.relations.items():
            if key.kind == "t" and key.name == table and rel.size("full"):
                out += [tuple(r) for r in rel.view("full").collect()]
        return out

    def write_ntriples(self, path: str | os.PathLike[str], derived_only: bool = True) -> int:
        """Write the (derived) triples as one N-Triples file, atomically (``timings['write']``);
        a ``.nq`` / ``.nq.gz`` name writes N-Quads, the named graphs included."""
        started = time.perf_counter()
        with spark_errors(f"writing {path}"):
            count = write_single(self.frame(derived_only, graphs=is_nquads(path)), str(path), self._local)
        self.timings["write"] = time.perf_counter() - started
        return count

    def write_parts(self, directory: str, fmt: str = "nt", derived_only: bool = True) -> str:
        """Write the (derived) triples as Spark part files: ``nt``, ``nt.gz`` or ``parquet``
        (columns ``s, p, o``), in parallel; any Hadoop path (``hdfs://``, ``s3a://``) works."""
        started = time.perf_counter()
        with spark_errors(f"writing {directory}"):
            out = write_parts(self.frame(derived_only), directory, fmt)
        self.timings[f"write_{fmt}"] = time.perf_counter() - started
        return out

    def write(self, path: str | os.PathLike[str]) -> int:
        """N-Triples (``.nt``, ``.nt.gz``) or a Parquet table set (``.parquet`` folder; no
        entity tables on Spark: every triple in ``triples-*.parquet``), streamed through the
        driver in Arrow batches."""
        if not str(path).endswith(".parquet"):
            return self.write_ntriples(path)
        import polars as pl

        from fincrime.rdf.tables import write_table_set

        started = time.perf_counter()
        with spark_errors(f"writing {path}"):
            frame = self.frame(True)
            batches = (pl.from_arrow(b) for b in frame.toArrow().to_batches(max_chunksize=1_000_000))
            count = write_table_set(path, [], batches)  # type: ignore[arg-type]
        self.timings["write"] = time.perf_counter() - started
        return count

    def results(self, intermediate=()):  # type: ignore[no-untyped-def]
        import polars as pl

        started = time.perf_counter()
        intermediate = list(intermediate)
        with spark_errors("selecting results"):
            derived = self.frame(True).cache()
            typed = derived.filter(F.col("p") == TYPE_IRI)
            inter = typed.filter(F.col("o").isin(intermediate)).select(F.col("s").alias("id")).distinct().cache()
            other = typed.filter(~F.col("o").isin(intermediate)).select(F.col("s").alias("id"))
            plain = derived.select(F.col("s").alias("id")).distinct().join(inter, "id", "left_anti")
            chosen = plain.union(other).distinct().localCheckpoint()
            frontier = chosen
            while frontier.count():
                reached = derived.join(frontier.withColumnRenamed("id", "s"), "s", "left_semi").select(F.col("o").alias("id"))
                frontier = reached.distinct().join(inter, "id", "left_semi").join(chosen, "id", "left_anti").localCheckpoint()
                chosen = chosen.union(frontier).localCheckpoint()
            kept = derived.join(chosen.withColumnRenamed("id", "s"), "s", "left_semi")
            table = kept.toArrow()
        self.timings["select"] = time.perf_counter() - started
        return pl.from_arrow(table).select("s", "p", "o")

    def context(self, results, classes=()):  # type: ignore[no-untyped-def]
        import polars as pl

        started = time.perf_counter()
        classes = list(classes)
        with spark_errors("selecting the results' context"):
            session = self.executor.spark
            plain = results.filter(pl.col("p") != TYPE_IRI)
            nodes = pl.concat([results["s"], plain["o"]]).unique()
            nodes = nodes.filter(nodes.str.starts_with("<") | nodes.str.starts_with("_:"))
            wanted = session.createDataFrame([(n,) for n in nodes.to_list()], "s string")
            inputs = self._input_frame()
            if classes:
                members = inputs.filter((F.col("p") == TYPE_IRI) & F.col("o").isin(classes)).select("s")
                wanted = wanted.union(members)
            table = inputs.join(wanted.distinct(), "s", "left_semi").toArrow()
        self.timings["context"] = time.perf_counter() - started
        return pl.from_arrow(table).select("s", "p", "o")

    def counts_by_class(self, derived_only: bool = True) -> dict[str, int]:
        return {
            k.name[1:-1]: n for k in self.executor.relations
            if k.kind == "c" and not k.graph and (n := self._rows(k, derived_only))
        }

    def counts_by_predicate(self, derived_only: bool = True) -> dict[str, int]:
        out: dict[str, int] = {}
        for key in self.executor.relations:
            n = self._rows(key, derived_only) if not key.graph else 0
            if not n:
                continue
            if key.kind == "p":
                out[key.name[1:-1]] = n
            elif key.kind == "c":
                out[TYPE_IRI[1:-1]] = out.get(TYPE_IRI[1:-1], 0) + n
        return out

    def count(self, derived_only: bool = True) -> int:
        return sum(self._rows(k, derived_only) for k in self.executor.relations if k.kind != "t" and not k.graph)
