"""Seeded randomness that depends only on *what* is drawn, never on how work is chunked.

Two mechanisms, both pure functions of ``(seed, stream, index)``:

- :func:`block_rng`: a NumPy generator for one fixed-size block of rows. Any chunk of rows is
  produced by drawing the blocks that cover it and slicing, so the chunk size cannot change a
  single value.
- :func:`entity_ids`: 32-hex identifiers (shaped like the reference's UUID4 hex) from a
  bijective 64-bit mix of the row index, so identifiers are unique by construction.

>>> import numpy as np
>>> a = entity_ids(7, Stream.TRANSACTION_ID, np.arange(3))
>>> b = entity_ids(7, Stream.TRANSACTION_ID, np.arange(1, 2))
>>> bytes(a[1]) == bytes(b[0]) and len(bytes(a[0])) == 32
True
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

from fincrime.generator.textcodec import hex_matrix

#: Rows per RNG block; part of the output's definition (changing it changes the data).
BLOCK = 4096

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


class Stream(IntEnum):
    """Independent random streams; the numbers are part of the output's definition."""

    PARTY = 1
    PARTY_ID = 2
    TRANSACTION = 3
    TRANSACTION_ID = 4
    SUSPICIOUS = 5
    TYPOLOGY = 6
    ATTEMPT_ID = 7
    ACTIVITY = 8
    ATTRACTION = 9


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finalizer: a bijection on uint64 with good avalanche."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _key(seed: int, stream: int, lane: int) -> np.uint64:
    base = np.array([(seed * 64 + stream * 4 + lane) & 0xFFFF_FFFF_FFFF_FFFF], dtype=np.uint64)
    return mix64(mix64(base) ^ np.uint64(seed >> 58))[0]


def entity_ids(seed: int, stream: Stream, index: np.ndarray) -> np.ndarray:
    """``(n, 32)`` lowercase hex ids, a UUID4 layout (version 4, RFC 4122 variant).

    The 64 bits of ``mix64(index + k)`` are all kept (bijective, hence unique per stream);
    the remaining 58 free bits come from a second independent mix.
    """
    idx = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        unique = mix64(idx + _key(seed, stream, 0)).view(np.uint8).reshape(-1, 8)
        noise = mix64(idx + _key(seed, stream, 1)).view(np.uint8).reshape(-1, 8)
    raw = np.empty((len(idx), 16), dtype=np.uint8)
    raw[:, 0:6] = unique[:, 0:6]
    raw[:, 6] = np.uint8(0x40) | (noise[:, 0] & np.uint8(0x0F))
    raw[:, 7] = unique[:, 6]
    raw[:, 8] = np.uint8(0x80) | (noise[:, 1] & np.uint8(0x3F))
    raw[:, 9] = unique[:, 7]
    raw[:, 10:16] = noise[:, 2:8]
    return hex_matrix(raw)


def block_rng(seed: int, stream: Stream, block: int) -> np.random.Generator:
    """The generator for rows ``[block * BLOCK, (block + 1) * BLOCK)`` of ``stream``."""
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(int(stream), block)))
    )


def stream_rng(seed: int, stream: Stream) -> np.random.Generator:
    """One generator for a whole small stream (typology plans, the suspicious set)."""
    return block_rng(seed, stream, 0)
