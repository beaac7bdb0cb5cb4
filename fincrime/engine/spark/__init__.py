"""The Spark executor of the rule plan: the same rules, the same results, on Spark partitions.

>>> from fincrime.rules import load_program  # doctest: +SKIP
>>> from fincrime.engine import materialize  # doctest: +SKIP
>>> program = load_program(["rules/suspicious-chains.dlog"], params={"maxChainLength": 5})  # doctest: +SKIP
>>> result = materialize(program, ["data/transactions-0.nt.gz"], engine="spark",
...                      engine_options={"master": "local[*]", "partitions": 8})  # doctest: +SKIP
>>> result.write_ntriples("derived.nt"); result.write_parts("derived-parquet", "parquet")  # doctest: +SKIP

Modules: ``session`` (one quiet session per process, errors as one line), ``io`` (N-Triples and
Parquet in, part files out), ``backend`` / ``compile`` / ``sql`` (the shared SPARQL semantics of
:mod:`fincrime.engine.sparql` as Spark SQL text), ``values`` (type classes of term columns), ``relations`` (semi-naive views with checkpointed chunks and per-column
type classes), ``executor`` and ``result``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from fincrime.engine.limits import Limits
from fincrime.engine.progress import Progress, ProgressFn, progress_reporter, report_skipped
from fincrime.engine.sparql.heads import check_program
from fincrime.rules.ast import Program
from fincrime.rules.plan import build_plan


def materialize_spark(
    program: Program,
    data_paths: Sequence[Any],
    engine_options: Mapping[str, Any],
    progress: bool | ProgressFn = False,
    checks: dict[int, list] | None = None,  # type: ignore[type-arg]
):  # type: ignore[no-untyped-def]
    """Materialize ``program`` over the data files on Spark; returns a :class:`SparkResult`.

    ``engine_options``: ``master`` (default ``local[*]``), ``partitions``, ``cores``, ``memory``,
    ``checkpoint_dir`` (reliable checkpoints, for clusters), ``debug`` (Spark's log on stderr),
    ``max_facts`` and ``timeout`` (:mod:`fincrime.engine.limits`). Memory and partitions not
    given are chosen from the machine and the input (:mod:`.resources`).
    """
    # these import pyspark, so they load when a Spark run starts, not with the package
    from fincrime.engine.spark.checkpoints import Checkpointer
    from fincrime.engine.spark.executor import SparkExecutor
    from fincrime.engine.spark.io import read_inputs
    from fincrime.engine.spark.resources import input_size
    from fincrime.engine.spark.result import SparkResult
    from fincrime.engine.spark.session import SparkOptions, get_session, spark_errors

    options = SparkOptions.parse(engine_options)
    say = progress_reporter(progress)
    plan = build_plan(program)
    paths = [str(p) for p in data_paths]
    resources = options.resources(input_size(paths))  # a job that cannot fit stops here, before a JVM
    timings: dict[str, float] = {}
    started = time.perf_counter()
    spark = get_session(options, resources)
    timings["session"] = time.perf_counter() - started
    heap = spark.sparkContext.getConf().get("spark.driver.memory", "1g")
    say(Progress("note", f"Spark {spark.version} on {spark.sparkContext.master}: {heap} driver, "
                         f"{resources.partitions} shuffle partitions, input ≈ {resources.input_bytes / 1e6:,.0f} MB"))
    limits = Limits.from_options({k: v for k, v in (("max_facts", options.max_facts), ("timeout", options.timeout))
                                  if v is not None})
    executor = SparkExecutor(spark, Checkpointer(spark, reliable=bool(options.checkpoint_dir)), limits=limits)
    executor.program_checks = checks if checks is not None else check_program(program)
    with spark_errors("reading the data"):
        mark = time.perf_counter()
        rows = executor.load(read_inputs(spark, paths))
        timings["load"] = time.perf_counter() - mark
    read = sum(rows.values())
    seconds = max(timings["load"], 1e-9)
    rate = read / seconds / resources.local_threads
    say(Progress("note", f"read {read:,} distinct triples in {timings['load']:.2f}s, "
                         f"{rate:,.0f} triples/s per core on {resources.local_threads} cores",
                 rate=read / seconds, rate_unit="triples/s", elapsed=seconds))
    with spark_errors("reasoning"):
        mark = time.perf_counter()
        executor.run(plan, say)
        timings["reason"] = time.perf_counter() - mark
    report_skipped(executor.skipped, say)
    return SparkResult(executor, timings, options.is_local)


def options_from_cli(master: str | None = None, partitions: int | None = None, cores: int | None = None,
                     memory: str | None = None) -> dict[str, Any]:
    """Engine options from the CLI flags (see :func:`session.options_from_cli`)."""
    from fincrime.engine.spark.session import options_from_cli as build

    return build(master, partitions, cores, memory)


__all__ = ["materialize_spark", "options_from_cli"]
