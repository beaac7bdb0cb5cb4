"""Triples as Parquet tables: the compact form of a reasoning result.

A *table set* is a folder (``derived.parquet/``) holding

* ``terms.parquet`` (optional): column ``term``, one canonical N-Triples term per row; when it
  is there every other table holds row numbers of this one (``UInt32``) instead of terms, so
  each term is written once however many facts mention it;
* ``triples-<n>.parquet``: columns ``s, p, o`` of canonical N-Triples terms (or term numbers);
* ``entity-<name>-<n>.parquet``: one row per subject, column ``s`` then one column per predicate,
  named by the predicate's canonical term (``<http://…#hasLength>``); the file's key-value
  metadata ``fincrime.classes`` lists (as JSON) the classes every subject of the table belongs
  to. A row stands for its ``rdf:type`` triples and one triple per predicate column.

Chains come out as one wide table (the engine's entity tables), so a million chains take a
few tens of MB instead of gigabytes of N-Triples, and a reader that wants triples gets them
back with :func:`read_table_set` in batches.

>>> import tempfile, pathlib, polars as pl
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "derived.parquet"
>>> chains = pl.DataFrame({"s": ["<http://e/c1>"], "<http://e/len>": ['"1"^^<http://www.w3.org/2001/XMLSchema#integer>']})
>>> write_table_set(folder, [("chain", ("<http://e/Chain>",), chains)], [])
2
>>> sorted(t for f in read_table_set(folder) for t in f.iter_rows())[0]
('<http://e/c1>', '<http://e/len>', '"1"^^<http://www.w3.org/2001/XMLSchema#integer>')
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from fincrime.errors import InputError

RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
TRIPLES = "triples-{:05d}.parquet"
TERMS = "terms.parquet"
CLASSES_KEY = "fincrime.classes"
COMPRESSION = "zstd"


def is_table_set(path: str | os.PathLike[str]) -> bool:
    return Path(path).is_dir() and Path(path).name.endswith(".parquet")


def _entity_file(name: str, part: int) -> str:
    return f"entity-{re.sub(r'[^A-Za-z0-9_-]', '_', name)}-{part:05d}.parquet"


def write_table_set(
    folder: str | os.PathLike[str],
    entities: Iterable[tuple[str, Sequence[str], pl.DataFrame]],
    triples: Iterable[pl.DataFrame],
    terms: pl.Series | None = None,
) -> int:
    """Write entity tables ``(name, classes, frame)`` and ``s, p, o`` frames into ``folder``,
    atomically (the folder appears complete or not at all). Returns the number of triples.
    With ``terms``, the frames hold numbers of rows of ``terms`` instead of terms."""
    target = Path(folder)
    tmp = target.with_name(f".{target.name}.part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    count = 0
    try:
        # polars writes Parquet itself (on all cores); going through Arrow first would copy
        # every string view of the decoded terms into one buffer
        if terms is not None:
            terms.rename("term").to_frame().write_parquet(tmp / TERMS, compression=COMPRESSION)
        parts: dict[str, int] = {}
        for name, classes, frame in entities:  # a table may come in several batches
            n = parts[name] = parts.get(name, -1) + 1
            frame.write_parquet(tmp / _entity_file(name, n), compression=COMPRESSION,
                                metadata={CLASSES_KEY: json.dumps(list(classes))})
            count += frame.height * (len(classes) + frame.width - 1)
        for n, frame in enumerate(f for f in triples if f.height):
            frame.select("s", "p", "o").write_parquet(tmp / TRIPLES.format(n), compression=COMPRESSION)
            count += frame.height
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return count


def _terms(root: Path) -> pl.Series | None:
    return pl.read_parquet(root / TERMS)["term"] if (root / TERMS).exists() else None


def _decoded(frame: pl.DataFrame, terms: pl.Series | None) -> pl.DataFrame:
    if terms is None:
        return frame
    return frame.select([terms.gather(frame[c]).alias(c) if frame[c].dtype != pl.String else pl.col(c)
                         for c in frame.columns])


def entity_tables(folder: str | os.PathLike[str]) -> Iterator[tuple[tuple[str, ...], pl.DataFrame]]:
    """``(classes, frame)`` of each entity table of a table set (terms, decoded)."""
    terms = _terms(Path(folder))
    for path in sorted(Path(folder).glob("entity-*.parquet")):
        meta = pq.read_metadata(path).metadata or {}
        classes = tuple(json.loads(meta.get(CLASSES_KEY.encode(), b"[]")))
        yield classes, _decoded(pl.read_parquet(path), terms)


def read_table_set(folder: str | os.PathLike[str], batch: int = 1_000_000) -> Iterator[pl.DataFrame]:
    """The table set's triples as ``s, p, o`` frames of terms, of at most about ``batch`` rows."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of Parquet tables")
    for classes, frame in entity_tables(root):
        for start in range(0, frame.height, max(1, batch // max(1, frame.width))):
            part = frame.slice(start, max(1, batch // max(1, frame.width)))
            for cls in classes:
                yield part.select("s", pl.lit(RDF_TYPE).alias("p"), pl.lit(cls).alias("o"))
            for column in part.columns[1:]:
                yield part.select("s", pl.lit(column).alias("p"), pl.col(column).alias("o")).drop_nulls("o")
    terms = _terms(root)
    for path in sorted(root.glob("triples-*.parquet")):
        parquet = pq.ParquetFile(path)
        for batch_ in parquet.iter_batches(batch_size=batch, columns=["s", "p", "o"]):
            yield _decoded(pl.from_arrow(batch_), terms)  # type: ignore[arg-type]


def count_table_set(folder: str | os.PathLike[str]) -> int:
    root = Path(folder)
    total = 0
    for path in root.glob("entity-*.parquet"):
        meta = pq.read_metadata(path)
        classes = json.loads((meta.metadata or {}).get(CLASSES_KEY.encode(), b"[]"))
        total += meta.num_rows * (len(classes) + meta.num_columns - 1)
    for path in root.glob("triples-*.parquet"):
        total += pq.read_metadata(path).num_rows
    return total
