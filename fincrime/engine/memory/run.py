"""The in-memory engine's entry points: N-Triples files or a frame in, a :class:`Result` out.

Entity tables (one wide row per minted node, ``engine/memory/entities.py``) change storage, not
results:

>>> from fincrime.rules import parse_program
>>> import polars as pl
>>> prog = parse_program("[?c, :from, ?x], [?c, :to, ?y] :- [?x, :pays, ?y], BIND(IRI(CONCAT(STR(?x), STR(?y))) AS ?c) .",
...                      prefixes={"": "http://e/"})
>>> data = pl.DataFrame({"s": ["<http://e/a>"], "p": ["<http://e/pays>"], "o": ["<http://e/b>"]})
>>> wide, narrow = (sorted(materialize_frame(prog, data, engine_options={"entity_tables": on}).triples())
...                 for on in (True, False))
>>> wide == narrow, len(wide)
(True, 2)
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from fincrime.engine.limits import Limits
from fincrime.engine.memory.executor import MemoryExecutor
from fincrime.engine.progress import Progress, ProgressFn, progress_reporter, report_skipped
from fincrime.engine.result import Result
from fincrime.engine.sparql.heads import HeadCheck, check_program
from fincrime.rdf import iter_frames
from fincrime.rdf.reader import text_size
from fincrime.rules.ast import Program
from fincrime.rules.plan import build_plan


def materialize_memory(
    program: Program,
    data_paths: Sequence[str | os.PathLike[str]],
    engine_options: Mapping[str, Any],
    progress: ProgressFn,
    checks: dict[int, list[HeadCheck]],
) -> Result:
    """The ``memory`` engine of :func:`fincrime.engine.materialize`: files read chunk by chunk,
    so the text of a large input is never in memory at once."""
    say = progress
    started = time.perf_counter()
    executor = _executor(engine_options)
    paths = list(data_paths)
    total = text_size(paths) / 1e6
    done = 0.0
    read = 0

    def on_text(size: int) -> None:
        nonlocal done
        done += size / 1e6

    for path in paths:
        for frame in iter_frames(path, ahead=2, on_text=on_text):
            executor.load_terms(frame, bulk=True)  # statements of named graphs go to their graphs
            read += frame.height
            elapsed = time.perf_counter() - started
            say(Progress("read", f"read {read:,} triples", done=min(done, total), total=total, unit="MB",
                         rate=read / elapsed if elapsed else None, rate_unit="triples/s", elapsed=elapsed))
    executor.finish_bulk()
    loaded = time.perf_counter()
    say(Progress("note", f"read {read:,} triples in {loaded - started:.2f}s"))
    return _reason(program, executor, say, {"parse": loaded - started}, checks)


def materialize_frame(
    program: Program, triples: pl.DataFrame, progress: bool | ProgressFn = False,
    engine_options: Mapping[str, Any] | None = None,
) -> Result:
    """Materialize over triples given as a frame of canonical term strings ``s, p, o``.

    ``engine_options`` of the in-memory executor: ``entity_tables`` (default True) stores the
    facts a rule head writes about a minted node as one row (see ``engine/memory/entities.py``);
    False stores every fact as a triple, with the same results. ``max_facts`` and ``timeout``
    (seconds) stop a program that derives without end (:mod:`fincrime.engine.limits`)."""
    checks = check_program(program)
    return _run(program, triples, progress_reporter(progress), {}, engine_options or {}, checks)


def _executor(options: Mapping[str, Any]) -> MemoryExecutor:
    return MemoryExecutor(base_for=lambda rp: rp.rule.base, entity_tables=bool(options.get("entity_tables", True)),
                          limits=Limits.from_options(options))


def _run(
    program: Program, triples: pl.DataFrame, say: ProgressFn, timings: dict[str, float],
    options: Mapping[str, Any], checks: dict[int, list[HeadCheck]],
) -> Result:
    started = time.perf_counter()
    executor = _executor(options)
    executor.load_terms(triples)
    timings["load"] = time.perf_counter() - started
    return _reason(program, executor, say, timings, checks)


def _reason(
    program: Program, executor: MemoryExecutor, say: ProgressFn, timings: dict[str, float],
    checks: dict[int, list[HeadCheck]],
) -> Result:
    plan = build_plan(program)
    executor.evaluator.program_checks = checks
    started = time.perf_counter()
    executor.commit()
    input_rows = {k: len(r) for k, r in executor.relations.items()}
    loaded = time.perf_counter()
    timings["load"] = timings.get("load", 0.0) + loaded - started
    executor.run(plan, say)
    timings["reason"] = time.perf_counter() - loaded
    report_skipped(executor.evaluator.skipped, say)
    return Result(executor, input_rows, timings)


__all__ = ["materialize_frame", "materialize_memory"]
