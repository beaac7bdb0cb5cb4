"""Helpers for engine tests: run a program over triples written in a compact N-Triples form, on
either executor (tests that take the ``run`` fixture run on both: see :func:`engine_runner`)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pytest

from fincrime.engine import materialize, materialize_frame
from fincrime.rdf import parse_document
from fincrime.rules import apply_params, parse_program

E = "http://e/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PREFIXES = {"": E}
#: the executors every golden test runs on; Spark ones carry the ``spark`` mark
ENGINES = ["memory", pytest.param("spark", marks=pytest.mark.spark)]


def run(rules: str, data: str = "", params: dict | None = None, base: str | None = None, engine: str = "memory",
        **options):
    program = parse_program(rules, "<test>", prefixes=PREFIXES, base=base)
    program = apply_params(program, params or {})
    text = data.replace("<:", f"<{E}")
    if engine in ("spark", "memory-file"):  # through a data file, as jobs and the CLI run
        folder = Path(tempfile.mkdtemp(prefix="fincrime-golden-"))
        atexit.register(shutil.rmtree, folder, True)
        (folder / "data.nt").write_text(text)
        if engine == "memory-file":
            return materialize(program, [str(folder / "data.nt")], engine="memory", engine_options=options)
        from test_spark_support import OPTIONS, spark_session

        spark_session()
        return materialize(program, [str(folder / "data.nt")], engine="spark", engine_options=OPTIONS)
    frame = parse_document(text) if text.strip() else pl.DataFrame(
        schema={"s": pl.String, "p": pl.String, "o": pl.String}
    )
    return materialize_frame(program, frame, engine_options=options)


def engine_runner(engine: str):  # type: ignore[no-untyped-def]
    """``run`` bound to one executor (what the ``run`` fixtures of the engine tests return)."""
    return functools.partial(run, engine=engine)


def facts(result, predicate: str | None = None) -> set[tuple[str, str, str]]:
    """Derived triples with the test namespace shortened to ':'."""
    out = set()
    for s, p, o in result.triples(derived_only=True):
        short = tuple(_short(t) for t in (s, p, o))
        if predicate is None or short[1] == predicate:
            out.add(short)
    return out


def _short(term: str) -> str:
    if term == f"<{RDF_TYPE}>":
        return "a"
    if term.startswith(f"<{E}"):
        return ":" + term[len(E) + 1 : -1]
    return term


def objects(result, predicate: str) -> dict[str, str]:
    return {s: o for s, _, o in facts(result, predicate)}
