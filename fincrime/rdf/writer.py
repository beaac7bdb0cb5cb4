"""Writing N-Triples and N-Quads (gzip when the name ends in ``.gz``), atomically and streaming."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

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
    for start in range(0, frame.height, chunk):
        part = frame.slice(start, chunk)
        buffer = io.BytesIO()
        # polars writes the lines straight to bytes (no per-line Python strings)
        part.select(statement_lines(part)).write_csv(buffer, include_header=False, quote_style="never")
        fh.write(buffer.getvalue())


__all__ = ["statement_lines", "write_nquads", "write_ntriples"]
