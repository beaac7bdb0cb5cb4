"""Writing query results: a rich table for people, CSV / JSON / N-Triples for pipes and files.

CSV and JSON follow the W3C SPARQL 1.1 result formats (``text/csv``,
``application/sparql-results+json``); a CONSTRUCT/DESCRIBE result in CSV/JSON has the
columns ``subject, predicate, object``. N-Triples takes graph results, and a SELECT with
exactly three columns (the seed queries' ``?S ?P ?O``) read as subject, predicate, object.
:func:`write_files` is the files a job keeps of each of its queries.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import pyoxigraph as ox
from rich.console import Console
from rich.table import Table

from fincrime.errors import InputError
from fincrime.jobfolder import write_atomic
from fincrime.stores.query import QueryResult, Term
from fincrime.vocab import DEFAULT_PREFIXES

FORMATS = ("table", "csv", "json", "nt")
TABLE_ROWS = 1000
_TRIPLE_VARS = ["subject", "predicate", "object"]


def _rows(result: QueryResult) -> tuple[list[str], Iterable[list[Term | None]]]:
    if result.form == "graph":
        return _TRIPLE_VARS, ([s, p, o] for s, p, o in result.triples)
    if result.form == "ask":
        return ["boolean"], [[ox.Literal("true" if result.boolean else "false")]]
    return result.variables, result.rows


def csv_value(term: Term | None) -> str:
    """SPARQL CSV: IRIs and literals by their text, blank nodes as ``_:label``.

    >>> csv_value(ox.Literal("1.5", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#decimal")))
    '1.5'
    """
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, ox.Triple):
        return str(term)
    return term.value


def json_term(term: Term) -> dict[str, object]:
    """SPARQL JSON results term."""
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Triple):
        return {"type": "triple", "value": {"subject": json_term(term.subject),
                "predicate": json_term(term.predicate), "object": json_term(term.object)}}
    out: dict[str, object] = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        out["datatype"] = term.datatype.value
    return out


def compact(term: Term | None, prefixes: dict[str, str]) -> str:
    """A short display form: prefixed names, plain literal values.

    >>> compact(ox.NamedNode("http://oxfordsemantic.tech/transactions/classes#Party"), {"type": "http://oxfordsemantic.tech/transactions/classes#"})
    'type:Party'
    """
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        iri = term.value
        best = max((ns for ns in prefixes.values() if iri.startswith(ns)), key=len, default=None)
        if best is not None:
            name = next(k for k, v in prefixes.items() if v == best)
            local = iri[len(best):]
            if local and all(c.isalnum() or c in "_-." for c in local):
                return f"{name}:{local}"
        return f"<{iri}>"
    if isinstance(term, ox.Literal):
        return f"{term.value}@{term.language}" if term.language else term.value
    return str(term)


def write_csv(result: QueryResult, out: TextIO) -> int:
    names, rows = _rows(result)
    writer = csv.writer(out, lineterminator="\r\n")  # the SPARQL CSV format says CRLF
    writer.writerow(names)
    n = 0
    for row in rows:
        writer.writerow([csv_value(t) for t in row])
        n += 1
    return n


def write_json(result: QueryResult, out: TextIO) -> int:
    if result.form == "ask":
        out.write(json.dumps({"head": {}, "boolean": bool(result.boolean)}) + "\n")
        return 1
    names, rows = _rows(result)
    out.write('{"head": {"vars": ' + json.dumps(names) + '}, "results": {"bindings": [')
    n = 0
    for row in rows:  # streamed: results may not fit in memory twice
        binding = {v: json_term(t) for v, t in zip(names, row, strict=True) if t is not None}
        out.write(("," if n else "") + "\n" + json.dumps(binding, ensure_ascii=False))
        n += 1
    out.write("\n]}}\n")
    return n


def _triples(result: QueryResult) -> Iterator[tuple[Term, Term, Term]]:
    if result.form == "graph":
        yield from result.triples
        return
    if result.form != "select" or len(result.variables) != 3:
        raise InputError("--format nt needs a CONSTRUCT/DESCRIBE query or a SELECT of exactly "
                         "three variables (subject, predicate, object)")
    for s, p, o in result.rows:
        if s is None or p is None or o is None:
            continue
        yield s, p, o


def write_nt(result: QueryResult, out: TextIO) -> int:
    n = 0
    for s, p, o in _triples(result):
        try:
            out.write(str(ox.Triple(s, p, o)) + " .\n")
        except TypeError:
            raise InputError(f"row {n + 1} is not a triple: {s} {p} {o}") from None
        n += 1
    return n


def write_table(result: QueryResult, console: object, *, limit: int = TABLE_ROWS) -> int:
    """Prints a rich table (at most ``limit`` rows, then says how many were left out)."""
    prefixes = {**DEFAULT_PREFIXES, **result.prefixes}
    if result.form == "ask":
        console.print("[bold]yes[/bold]" if result.boolean else "[bold]no[/bold]")  # type: ignore[attr-defined]
        return 1
    names, rows = _rows(result)
    table = Table(*names, header_style="bold", show_lines=False)
    shown = list(islice(rows, limit))
    for row in shown:
        table.add_row(*(compact(t, prefixes) for t in row))
    rest = sum(1 for _ in rows)
    total = len(shown) + rest
    table.caption = f"{total} row{'s' if total != 1 else ''}" + (
        f" ({rest} not shown; use --format csv)" if rest else "")
    console.print(table)  # type: ignore[attr-defined]
    return total


def write_result(result: QueryResult, fmt: str, out: TextIO, console: object | None = None) -> int:
    """Writes ``result`` in ``fmt`` (one of :data:`FORMATS`); returns the number of rows."""
    if fmt == "csv":
        return write_csv(result, out)
    if fmt == "json":
        return write_json(result, out)
    if fmt == "nt":
        return write_nt(result, out)
    if fmt == "table":
        return write_table(result, console or Console(file=out))
    raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")


def _is_triple(row: list[Term | None]) -> bool:
    s, p, o = row
    return isinstance(s, ox.NamedNode | ox.BlankNode) and isinstance(p, ox.NamedNode) and o is not None


def write_files(result: QueryResult, out_dir: Path, name: str, formats: Sequence[str]) -> dict[str, Any]:
    """The files a job keeps of one query's result, in ``out_dir``; returns ``{"kind", "rows",
    "files"}`` (files relative to ``out_dir``'s parent).

    ``<name>.nt`` for CONSTRUCT/DESCRIBE and for a ``SELECT ?S ?P ?O`` whose every row is a
    triple (the reference's way of extracting triples), ``<name>.csv`` / ``<name>.json`` (as
    ``formats`` say) for other SELECTs, ``<name>.json`` for ASK.
    """
    def write(suffix: str, writer: Any, what: QueryResult) -> int:
        buf = io.StringIO()
        n = writer(what, buf)
        files.append(out_dir / f"{name}.{suffix}")
        write_atomic(files[-1], buf.getvalue())
        return n

    files: list[Path] = []
    if result.form == "ask":
        write("json", write_json, result)
        info: dict[str, Any] = {"kind": "ask", "rows": 1, "value": bool(result.boolean)}
    elif result.form == "graph":
        info = {"kind": "construct", "rows": write("nt", write_nt, result)}
    else:
        rows = list(result.rows)
        result = replace(result, rows=rows)
        if [v.lower() for v in result.variables] == ["s", "p", "o"] and all(map(_is_triple, rows)):
            info = {"kind": "select-triples", "rows": write("nt", write_nt, result)}
        else:
            info = {"kind": "select", "rows": len(rows)}
            if "json" in formats:
                write("json", write_json, result)
            if "csv" in formats:
                write("csv", write_csv, result)
    info["files"] = [f.relative_to(out_dir.parent).as_posix() for f in files]
    return info
