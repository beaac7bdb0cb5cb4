"""Helpers for engine tests: run a program over triples written in a compact N-Triples form."""

from __future__ import annotations

import polars as pl

from fincrime.engine import materialize_frame
from fincrime.rdf import parse_document
from fincrime.rules import apply_params, parse_program

E = "http://e/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PREFIXES = {"": E}


def run(rules: str, data: str = "", params: dict | None = None, base: str | None = None, **options):
    program = parse_program(rules, "<test>", prefixes=PREFIXES, base=base)
    program = apply_params(program, params or {})
    frame = parse_document(data.replace("<:", f"<{E}")) if data.strip() else pl.DataFrame(
        schema={"s": pl.String, "p": pl.String, "o": pl.String}
    )
    return materialize_frame(program, frame, engine_options=options)


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
