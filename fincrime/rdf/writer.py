"""Writing N-Triples and N-Quads (gzip when the name ends in ``.gz``), atomically and streaming."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from fincrime.rdf.gzipstream import ParallelGzip


def write_ntriples(path: str | os.PathLike[str], triples: pl.DataFrame | Iterable[pl.DataFrame]) -> int:
    """Write ``s, p, o`` frames of canonical terms as N-Triples, atomically.

    ``triples`` is one frame or an iterable of frames (written as they come, so a caller can
    stream). Frames with a ``g`` column (the graph, null for the default graph) are written as
    N-Quads. Returns the number of statements written; the file appears under its name only
    when complete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.part")
    frames = [triples] if isinstance(triples, pl.DataFrame) else triples
    count = 0
    try:
        with _open_binary(tmp, compress=target.suffix == ".gz") as fh:
            for frame in frames:
                count += frame.height
                _write_frame(fh, frame)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return count


write_nquads = write_ntriples  # the same writer: a frame's ``g`` column makes its lines quads


@contextmanager
def _open_binary(path: Path, compress: bool):  # type: ignore[no-untyped-def]
    """A binary sink; gzip on two threads with reproducible bytes (see :mod:`.gzipstream`)."""
    with open(path, "wb") as raw:
        if not compress:
            yield raw
            return
        with ParallelGzip(raw, path.name.removeprefix(".").removesuffix(".part"), level=3) as gz:
            yield gz


def statement_lines(frame: pl.DataFrame) -> pl.Expr:
    """The N-Triples (or, with a ``g`` column, N-Quads) line of each row, without newline."""
    if "g" not in frame.columns:
        return pl.concat_str([pl.col("s"), pl.col("p"), pl.col("o")], separator=" ") + " ."
    return (
        pl.concat_str([pl.col("s"), pl.col("p"), pl.col("o")], separator=" ")
        + pl.when(pl.col("g").is_null()).then(pl.lit("")).otherwise(" " + pl.col("g"))
        + " ."
    )


def _write_frame(fh, frame: pl.DataFrame, chunk: int = 500_000) -> None:  # type: ignore[no-untyped-def]
    for part in _frame_bytes(frame, chunk):
        fh.write(part)


def _frame_bytes(frame: pl.DataFrame, chunk: int = 500_000) -> Iterator[bytes]:
    for start in range(0, frame.height, chunk):
        part = frame.slice(start, chunk)
        buffer = io.BytesIO()
        # polars writes the lines straight to bytes (no per-line Python strings)
        part.select(statement_lines(part)).write_csv(buffer, include_header=False, quote_style="never")
        yield buffer.getvalue()


class StatementStream(io.RawIOBase):
    """A readable binary stream of the N-Triples (N-Quads) lines of ``s, p, o[, g]`` frames,
    produced a frame at a time as the reader asks: a native parser (Oxigraph's bulk loader)
    can take a compact table set in one call without a text copy of it on disk or in memory.

    >>> frames = iter([pl.DataFrame({"s": ["<http://e/a>"], "p": ["<http://e/p>"], "o": ['"1"']})])
    >>> StatementStream(frames).read()
    b'<http://e/a> <http://e/p> "1" .\\n'
    """

    def __init__(self, frames: Iterable[pl.DataFrame]) -> None:
        super().__init__()
        self._parts = (part for frame in frames for part in _frame_bytes(frame))
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            part = next(self._parts, None)
            if part is None:
                return 0
            self._buffer = memoryview(part)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


__all__ = ["StatementStream", "statement_lines", "write_nquads", "write_ntriples"]
