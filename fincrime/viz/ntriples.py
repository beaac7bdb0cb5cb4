"""Read N-Triples (plain or ``.gz``) into a polars frame of ``s, p, o`` strings, fast.

The viz layer reads a job's data files and ``derived.nt`` (millions of triples for big jobs), so
lines are split by polars in bulk: ``s`` and ``p`` become bare IRIs (or ``_:label``), ``o`` stays
an N-Triples term (``<iri>``, ``"lex"^^<dt>``, ``"lex"@lang``, ``"lex"`` or ``_:label``); use
:func:`iri` and :func:`lexical` to decode it. Lines the bulk path cannot trust (tabs or several
spaces between terms, escapes in IRIs) send the whole file through pyoxigraph's strict parser,
which also reports a malformed line as ``file:line``.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "x.nt"
>>> _ = p.write_text('<http://e/a> <http://e/p> "1.5"^^<http://www.w3.org/2001/XMLSchema#decimal> .\\n')
>>> df = read_ntriples(p)
>>> df.select(lexical("o")).item()
'1.5'
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from fincrime.errors import InputError, SourceError

_IRI_OR_BNODE = r"^(<[^<>\"{}|^`\\\s]*>|_:\S+)$"
_OBJECT_START = r"^(<|\"|_:)"
_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[tbnrf\"'\\])")
_SIMPLE_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _open_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def _bare(col: str) -> pl.Expr:
    """``<iri>`` -> ``iri``; blank nodes are kept as ``_:label``."""
    c = pl.col(col)
    return pl.when(c.str.starts_with("<")).then(c.str.slice(1, c.str.len_chars() - 2)).otherwise(c)


def _bulk(data: bytes) -> pl.DataFrame | None:
    """Split lines with polars; ``None`` when some line needs the strict parser."""
    if not data.strip():
        return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
    try:
        lines = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator="\x1f",  # a byte N-Triples lines practically never contain: one column
            quote_char=None,
            new_columns=["line"],
            schema_overrides=[pl.String],
        )
    except pl.exceptions.PolarsError:
        return None
    if lines.width != 1:
        return None
    df = (
        lines.lazy()
        .select(pl.col("line").str.strip_chars())
        .filter((pl.col("line") != "") & ~pl.col("line").str.starts_with("#"))
        .select(pl.col("line").str.splitn(" ", 3).struct.rename_fields(["s", "p", "o"]))
        .unnest("line")
        .with_columns(pl.col("o").str.strip_chars_end(" ."), pl.col("o").str.ends_with(" .").alias("_end"))
        .collect()
    )
    ok = (
        df["s"].str.contains(_IRI_OR_BNODE)
        & df["p"].str.contains(r"^<[^<>\"{}|^`\\\s]*>$")
        & df["o"].str.contains(_OBJECT_START)
        & df["_end"]
    )
    if not ok.fill_null(False).all():
        return None
    return df.select(_bare("s").alias("s"), _bare("p").alias("p"), pl.col("o"))


def _strict(path: Path, data: bytes) -> pl.DataFrame:
    import pyoxigraph as ox

    rows: list[tuple[str, str, str]] = []
    try:
        for t in ox.parse(data, ox.RdfFormat.N_TRIPLES):
            s = t.subject
            rows.append(
                (s.value if isinstance(s, ox.NamedNode) else str(s), t.predicate.value, str(t.object))
            )
    except SyntaxError as exc:
        raise SourceError(
            f"malformed N-Triples: {exc.msg}", source=str(path), line=exc.lineno or 0, column=exc.offset
        ) from None
    return pl.DataFrame(rows, schema={"s": pl.String, "p": pl.String, "o": pl.String}, orient="row")


def read_ntriples(path: str | Path, predicates: Iterable[str] | None = None) -> pl.DataFrame:
    """Triples of one N-Triples file as ``s, p, o`` strings, optionally only some predicates."""
    path = Path(path)
    data = _open_bytes(path)
    df = _bulk(data)
    if df is None:
        df = _strict(path, data)
    if predicates is not None:
        df = df.filter(pl.col("p").is_in(list(predicates)))
    return df


def iri(col: str) -> pl.Expr:
    """The IRI of an ``<iri>`` object term (null for literals)."""
    c = pl.col(col)
    return pl.when(c.str.starts_with("<")).then(c.str.slice(1, c.str.len_chars() - 2)).otherwise(None)


def lexical(col: str) -> pl.Expr:
    """The lexical form of a literal object term; IRIs are returned bare.

    String escapes are left as written (amounts, dates and IRIs never carry them); pass text
    shown to people through :func:`unescape`.
    """
    c = pl.col(col)
    return pl.when(c.str.starts_with('"')).then(c.str.extract(r'^"(.*)"', 1)).otherwise(_bare(col))


def unescape(text: str) -> str:
    r"""Undo N-Triples string escapes (``\"``, ``\\``, ``\n``, ``\uXXXX`` ...).

    >>> unescape(r'O\"Brien \u00e9')
    'O"Brien é'
    """

    def sub(m: re.Match[str]) -> str:
        code = m.group(1)
        if code[0] in "uU":
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES[code]

    return _ESCAPE.sub(sub, text)
