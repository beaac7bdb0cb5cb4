"""Reading N-Triples and N-Quads files (plain or gzip) into polars frames of canonical terms.

One reader for every component (engine, stores, pictures): a file is read in chunks of whole
lines (memory stays bounded by the chunk, not the file), each chunk is parsed by three tiers
that agree on every line (see :func:`parse_document`), and anything wrong is one clean error:
a bad statement names ``file:line:column``, bad UTF-8 its line and column, a damaged gzip file
its name and what is wrong with it.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.nt"
>>> _ = p.write_text('<http://x/a> <http://x/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .\\n')
>>> read_ntriples([p]).row(0)
('<http://x/a>', '<http://x/p>', '"1"^^<http://www.w3.org/2001/XMLSchema#integer>')
"""

from __future__ import annotations

import gzip
import os
import queue
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import polars as pl

from fincrime.errors import InputError, SourceError
from fincrime.rdf.syntax import (
    CANONICAL_LINE,
    FAST_LINE,
    FAST_QUAD,
    SKIP_LINE,
    STRING_SUFFIX,
    parse_line,
)
from fincrime.rdf.tables import is_table_set, read_table_set

ProgressFn = Callable[[int], None]
PathLike = str | os.PathLike[str]
CHUNK_BYTES = 64 << 20  # bytes of whole lines parsed at once
TRIPLES = {"s": pl.String, "p": pl.String, "o": pl.String}
QUADS = {**TRIPLES, "g": pl.String}


def is_nquads(path: PathLike) -> bool:
    """N-Quads by name: ``.nq`` or ``.nq.gz`` (everything else is read as N-Triples)."""
    name = Path(path).name.lower()
    return name.endswith(".nq") or name.endswith(".nq.gz")


def _open(path: Path) -> IO[bytes]:
    try:
        with open(path, "rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"  # gzip, whatever the name says
        return gzip.open(path, "rb") if gzipped else open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: a directory, not an RDF file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _gzip_problem(path: Path, line: int, exc: BaseException) -> InputError:
    if isinstance(exc, EOFError):
        what = "the gzip file is truncated (it ends before its end-of-stream marker)"
    elif isinstance(exc, gzip.BadGzipFile):
        what = f"not a valid gzip file ({exc})"
    else:
        what = f"corrupt gzip data ({exc})"
    return InputError(f"{path}: {what}, after line {line - 1:,}" if line > 1 else f"{path}: {what}")


def _decode(data: bytes, path: Path, first_line: int) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        start = data.rfind(b"\n", 0, exc.start) + 1
        end = data.find(b"\n", exc.start)
        shown = data[start : end if end >= 0 else len(data)].decode("utf-8", "replace")
        raise SourceError("invalid UTF-8", source=str(path), line=line, column=exc.start - start + 1,
                          text=shown) from None


def iter_chunks(path: PathLike, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[int, str]]:
    """The text of a file in pieces of whole lines: ``(number of the first line, text)``."""
    path = Path(path)
    line = 1
    pending = b""
    with _open(path) as fh:
        while True:
            try:
                block = fh.read(chunk_bytes)
            except (OSError, EOFError, zlib.error) as exc:
                raise _gzip_problem(path, line + pending.count(b"\n"), exc) from None
            if not block:
                break
            data = pending + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a chunk: keep reading
                pending = data
                continue
            data, pending = data[:cut], data[cut:]
            text = _decode(data, path, line)
            if line == 1 and text.startswith("\ufeff"):
                text = text[1:]  # a byte-order mark is not part of the first statement
            yield line, text
            line += data.count(b"\n")
    if pending:
        text = _decode(pending, path, line)
        yield line, text[1:] if line == 1 and text.startswith("\ufeff") else text


def read_text(path: PathLike) -> str:
    """A whole (possibly gzipped) UTF-8 file as text, with the reader's clean errors."""
    return "".join(text for _, text in iter_chunks(path))


def parse_document(text: str, source: str = "<string>", *, first_line: int = 1, quads: bool = False) -> pl.DataFrame:
    """Parse N-Triples (or with ``quads`` N-Quads) text; raise :class:`SourceError` at the first
    bad line. Columns ``s, p, o`` (and ``g``: the graph, null for the default graph).

    Three tiers, each taking what the one before left: lines in canonical spacing (one space
    between terms, `` .`` at the end: what generators and stores write) are checked by one
    regular expression and split, the fastest path; other plain lines are split by a capturing
    expression; the rest (escapes, unusual labels, errors) go to the strict parser.
    """
    schema = QUADS if quads else TRIPLES
    lines = pl.DataFrame({"text": text.split("\n")}).with_row_index("line", offset=first_line)
    frames: list[pl.DataFrame] = []
    if not quads:
        canonical = lines["text"].str.contains(CANONICAL_LINE)
        split = lines.filter(canonical).select(
            "line", pl.col("text").str.splitn(" ", 3).struct.rename_fields(["s", "p", "rest"]).alias("parts")
        ).unnest("parts")
        frames.append(split.select("line", "s", "p", pl.col("rest").str.head(-2).alias("o")))
        lines = lines.filter(~canonical)
    others = lines.filter(~pl.col("text").str.contains(SKIP_LINE))
    if others.height:
        names = ["s", "p", "o", "g"] if quads else ["s", "p", "o"]
        parts = others.with_columns(
            pl.col("text").str.extract_groups(FAST_QUAD if quads else FAST_LINE).struct.rename_fields(names).alias("m")
        ).unnest("m")
        frames.append(parts.filter(pl.col("s").is_not_null()).select("line", *names))
        slow = parts.filter(pl.col("s").is_null())
        if slow.height:
            rows = [
                (n, *parse_line(t, source, n, quads=quads))
                for n, t in zip(slow["line"].to_list(), slow["text"].to_list(), strict=True)
            ]
            frames.append(pl.DataFrame(rows, schema={"line": pl.UInt32, **schema}, orient="row"))
    if not frames:
        return pl.DataFrame(schema=schema)
    out = pl.concat([f.with_columns(pl.col("line").cast(pl.UInt32)) for f in frames])
    if len(frames) > 1:
        out = out.sort("line")
    return _canonical_objects(out.select(*schema))


def _canonical_objects(frame: pl.DataFrame) -> pl.DataFrame:
    """Fast-path spelling fixes: drop ``^^xsd:string``, lower-case language tags."""
    o = pl.col("o")
    needs = frame.select((o.str.ends_with(STRING_SUFFIX) | o.str.contains('"@', literal=True)).any()).item()
    if not needs:
        return frame
    lang = o.str.extract(r'"@([^"]*)$', 1)
    return frame.with_columns(
        pl.when(o.str.ends_with(STRING_SUFFIX))
        .then(o.str.head(-len(STRING_SUFFIX)))
        .when(lang.is_not_null() & (lang != lang.str.to_lowercase()))
        .then(o.str.replace(r'"@[^"]*$', '"@') + lang.str.to_lowercase())
        .otherwise(o)
        .alias("o")
    )


def iter_frames(path: PathLike, *, quads: bool | None = None, chunk_bytes: int = CHUNK_BYTES,
                ahead: int = 0, on_text: Callable[[int], None] | None = None) -> Iterator[pl.DataFrame]:
    """The statements of one file, a frame per chunk (``quads`` defaults to the file's name).

    ``ahead``: read and parse up to that many chunks ahead on a thread of its own, so reading
    the next chunk overlaps with whatever the caller does with this one (decompression and
    polars' parsing release the GIL). Errors arrive where the chunk would have. ``on_text``
    is told the size of each chunk's text as it is parsed (for progress against
    :func:`text_size`). A Parquet table set (``derived.parquet/``, :mod:`.tables`) gives its
    triples in batches, decoded from its compact form."""
    if is_table_set(path):
        yield from read_table_set(path)
        return
    nq = is_nquads(path) if quads is None else quads

    def frames() -> Iterator[pl.DataFrame]:
        for first, text in iter_chunks(path, chunk_bytes):
            frame = parse_document(text, str(path), first_line=first, quads=nq)
            if on_text is not None:
                on_text(len(text))
            if frame.height:
                yield frame

    yield from (_prefetched(frames(), ahead) if ahead > 0 else frames())


GZIP_RATIO = 10  # text bytes per compressed byte, when a gzip trailer cannot tell


def text_size(paths: Iterable[PathLike]) -> int:
    """The size of the files' text in bytes: a gzip file's by its trailer (which holds the size
    modulo 4 GiB, so a trailer smaller than the file is replaced by an estimate)."""
    total = 0
    for path in paths:
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as fh:
                if fh.read(2) == b"\x1f\x8b" and size >= 18:
                    fh.seek(-4, os.SEEK_END)
                    isize = int.from_bytes(fh.read(4), "little")
                    total += isize if isize >= size else size * GZIP_RATIO
                    continue
            total += size
        except OSError:
            continue
    return total


_END = object()


def _prefetched(source: Iterator[Any], ahead: int) -> Iterator[Any]:
    """``source``'s items, produced on a worker thread at most ``ahead`` items in advance."""
    items: queue.Queue[Any] = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def work() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        items.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            items.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            items.put(exc)

    worker = threading.Thread(target=work, daemon=True, name="fincrime-read-ahead")
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


def _read(paths: Iterable[PathLike], quads: bool, on_file: ProgressFn | None,
          predicates: Iterable[str] | None) -> pl.DataFrame:
    wanted = list(predicates) if predicates is not None else None
    frames: list[pl.DataFrame] = []
    for path in paths:
        count = 0
        for frame in iter_frames(path):
            if wanted is not None:
                frame = frame.filter(pl.col("p").is_in(wanted))
            if "g" not in frame.columns and quads:
                frame = frame.with_columns(pl.lit(None, pl.String).alias("g"))
            elif "g" in frame.columns and not quads:
                named = frame.filter(pl.col("g").is_not_null())
                if named.height:
                    raise InputError(f"{path}: holds named graphs ({named.height:,} statements in this part), "
                                     "which a reader of triples would drop", hint="read it as a dataset")
                frame = frame.drop("g")
            count += frame.height
            frames.append(frame)
        if on_file is not None:
            on_file(count)
    if not frames:
        return pl.DataFrame(schema=QUADS if quads else TRIPLES)
    return pl.concat(frames, rechunk=True)


def read_ntriples(
    paths: Iterable[PathLike], *, on_file: ProgressFn | None = None, predicates: Iterable[str] | None = None,
) -> pl.DataFrame:
    """All triples of the given files as a frame of canonical term strings ``s, p, o``.

    Duplicates are kept (callers deduplicate once, after encoding). ``on_file`` is called with
    each file's triple count, for progress bars; ``predicates`` (``<iri>`` terms) keeps only
    those. An N-Quads file may be read if all its statements are in the default graph.
    """
    return _read(paths, False, on_file, predicates)


def read_dataset(
    paths: Iterable[PathLike], *, on_file: ProgressFn | None = None, predicates: Iterable[str] | None = None,
) -> pl.DataFrame:
    """All statements of N-Triples and N-Quads files: ``s, p, o, g``, where ``g`` is the named
    graph (``<iri>`` or ``_:label``) or null for the default graph (every N-Triples line)."""
    return _read(paths, True, on_file, predicates)


__all__ = [
    "is_nquads", "iter_chunks", "iter_frames", "parse_document", "read_dataset", "read_ntriples", "read_text",
    "text_size",
]
