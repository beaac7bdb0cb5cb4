"""A gzip writer that compresses on several threads and still gives reproducible bytes.

Like pigz: the uncompressed stream is cut into pieces at fixed offsets (every ``PIECE`` bytes
of *this file's* text, so how the text arrives never matters), each piece is raw-deflated on
its own thread with the previous 32 KiB of text as its dictionary and ends with a sync flush
(byte-aligned), and the pieces are concatenated into one ordinary gzip member. zlib releases
the GIL, so two pieces compress at once on two cores. Any gzip reader reads the result.

>>> import gzip, io
>>> sink = io.BytesIO()
>>> with ParallelGzip(sink, "x.nt", level=1, piece=8) as gz:
...     gz.write(b"<a> <b> <c> .\\n" * 3)
>>> gzip.decompress(sink.getvalue())
b'<a> <b> <c> .\\n<a> <b> <c> .\\n<a> <b> <c> .\\n'
"""

from __future__ import annotations

import struct
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

PIECE = 1 << 22
WINDOW = 1 << 15
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a last, empty fixed-Huffman block ends the deflate stream


def _deflate(piece: bytes, dictionary: bytes, level: int) -> bytes:
    if dictionary:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=dictionary)
    else:
        packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH)


class ParallelGzip:
    """Write-only gzip stream over ``raw``; header has no timestamp and the name sans ``.gz``."""

    def __init__(
        self, raw: BinaryIO, name: str, *, level: int, piece: int = PIECE, threads: int = 2
    ) -> None:
        self.raw = raw
        self.level = level
        self.piece = piece
        self.parts: list[memoryview] = []  # text not yet in a piece; views, not copies
        self.buffered = 0
        self.previous_tail = b""
        self.crc = 0
        self.size = 0
        self.pending: deque[Future[bytes]] = deque()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="fincrime-gzip")
        self.limit = 2 * threads  # pieces in flight: bounds memory
        flags = 0x08 if name else 0
        xfl = 4 if level == 1 else 2 if level == 9 else 0
        header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 0) + bytes([xfl, 255])
        if name:
            header += name.removesuffix(".gz").encode("latin-1") + b"\0"
        raw.write(header)

    def write(self, data: bytes | memoryview) -> None:
        """Add text; ``data`` must not change afterwards (it is kept until compressed)."""
        view = memoryview(data).cast("B")
        self.crc = zlib.crc32(view, self.crc)
        self.size += view.nbytes
        self.parts.append(view)
        self.buffered += view.nbytes
        while self.buffered >= self.piece:
            self._submit(self._take(self.piece))

    def _take(self, n: int) -> bytes:
        """The first ``n`` buffered bytes, copied once into a piece."""
        taken, need = [], n
        while need:
            head = self.parts[0]
            if head.nbytes <= need:
                taken.append(self.parts.pop(0))
                need -= head.nbytes
            else:
                taken.append(head[:need])
                self.parts[0] = head[need:]
                need = 0
        self.buffered -= n
        return b"".join(taken)

    def _submit(self, piece: bytes) -> None:
        self.pending.append(self.pool.submit(_deflate, piece, self.previous_tail, self.level))
        self.previous_tail = piece[-WINDOW:]
        while len(self.pending) > self.limit:
            self.raw.write(self.pending.popleft().result())

    def close(self) -> None:
        try:
            if self.buffered:
                self._submit(self._take(self.buffered))
            while self.pending:
                self.raw.write(self.pending.popleft().result())
            self.raw.write(_FINAL_EMPTY_BLOCK)
            self.raw.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))
        finally:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParallelGzip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
