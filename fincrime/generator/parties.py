"""Parties: identifiers, flags, names and (realistic profile) how active each one is.

What is kept for the whole run is ``O(parties)`` and small: 32 bytes of id, one flag and (for
the realistic profile) two floats per party. Everything else is drawn per block when a party
batch is written.

In the realistic profile a party's weight as a payer and as a payee are drawn independently.
With one shared heavy-tailed weight the parties that receive most would also pay most, the
expected onward branching of a transfer would be ``E[w^2] / E[w]^2`` (unbounded for a Pareto
tail below 2) and time-ordered chains would explode combinatorially (3,000 transactions held
about 4e13 chains of up to 10 hops from suspicious parties, against 2e5 with uniform
activity). Independent weights keep each role heavy-tailed and the branching at the mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from fincrime.generator.randomness import BLOCK, Stream, block_rng, entity_ids, stream_rng
from fincrime.generator.records import PartyBatch
from fincrime.generator.textcodec import text_table

#: Pareto tail index of party activity in the realistic profile (lower = more skewed)
ACTIVITY_TAIL = 1.3
#: Share of external parties that have exited, as in the reference generator
EXITED_SHARE = 1 / 200


@cache
def name_tables() -> tuple[np.ndarray, np.ndarray]:
    """Zero-padded byte tables of first and family names (``fincrime/generator/data``)."""
    tables = []
    for fname in ("first_names.txt", "last_names.txt"):
        text = resources.files("fincrime.generator").joinpath("data", fname).read_text("ascii")
        words = [w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#")]
        bad = [w for w in words if not all(c.isalpha() or c in "'-" for c in w)]
        if bad:  # names go into N-Triples literals unescaped, so keep them plain
            raise ValueError(f"{fname}: names must be letters, ' or - only: {bad[:3]}")
        tables.append(text_table(words))
    return tables[0], tables[1]


def name_width() -> int:
    first, last = name_tables()
    return first.shape[1] + 1 + last.shape[1]


@dataclass
class PartyTable:
    """Run-wide party state: ids, the suspicious set, activity weights."""

    ids: np.ndarray
    suspicious: np.ndarray
    # payer / payee choice by weight; None = uniform (original profile)
    payers: WeightedSampler | None
    payees: WeightedSampler | None

    def __len__(self) -> int:
        return len(self.ids)


def build_party_table(
    seed: int, parties: int, ratio: float, forced: np.ndarray, *, realistic: bool
) -> PartyTable:
    """Ids, ``round(ratio * parties)`` randomly suspicious parties plus ``forced``, activity."""
    ids = entity_ids(seed, Stream.PARTY_ID, np.arange(parties, dtype=np.uint64))
    suspicious = np.zeros(parties, dtype=bool)
    chosen = round(ratio * parties)
    if chosen:
        drawn = stream_rng(seed, Stream.SUSPICIOUS).choice(parties, chosen, replace=False)
        suspicious[drawn] = True
    suspicious[forced] = True
    if not realistic:
        return PartyTable(ids=ids, suspicious=suspicious, payers=None, payees=None)
    return PartyTable(
        ids=ids,
        suspicious=suspicious,
        payers=WeightedSampler(_activity(seed, Stream.ACTIVITY, parties)),
        payees=WeightedSampler(_activity(seed, Stream.ATTRACTION, parties)),
    )


def _activity(seed: int, stream: Stream, parties: int) -> np.ndarray:
    weights = np.empty(parties, dtype=np.float64)
    for block in range(-(-parties // BLOCK)):
        lo, hi = block * BLOCK, min((block + 1) * BLOCK, parties)
        weights[lo:hi] = block_rng(seed, stream, block).pareto(ACTIVITY_TAIL, hi - lo) + 1
    return weights


class WeightedSampler:
    """Index ``i`` with probability ``weights[i] / sum``: inverse CDF with a guide table.

    Same answers as ``searchsorted(cdf, u * total, side="right")``, but a guide table of
    ``2n`` equal-width buckets puts every draw within a step or two of its answer, so a
    few vectorized corrections replace a binary search per draw.

    >>> import numpy as np
    >>> s = WeightedSampler(np.array([1.0, 0.0, 3.0]))
    >>> s.draw(np.array([0.0, 0.2, 0.25, 0.99])).tolist()
    [0, 0, 2, 2]
    """

    def __init__(self, weights: np.ndarray) -> None:
        self.cdf = np.cumsum(weights, dtype=np.float64)
        self.total = float(self.cdf[-1])
        self.buckets = 2 * len(weights)
        edges = np.arange(self.buckets) * (self.total / self.buckets)
        self.guide = np.searchsorted(self.cdf, edges, side="right").astype(np.int64)

    def draw(self, u: np.ndarray) -> np.ndarray:
        target = u * self.total
        bucket = np.minimum((u * self.buckets).astype(np.int64), self.buckets - 1)
        idx = self.guide[bucket]
        last = len(self.cdf) - 1
        while True:  # forward to the first cdf > target
            behind = (self.cdf[np.minimum(idx, last)] <= target) & (idx < last)
            if not behind.any():
                break
            idx += behind
        while True:  # rounding at a bucket edge can overshoot by one
            ahead = (idx > 0) & (self.cdf[np.maximum(idx - 1, 0)] > target)
            if not ahead.any():
                break
            idx -= ahead
        return np.minimum(idx, last)


def party_batch(
    seed: int, table: PartyTable, start: int, stop: int, *, realistic: bool
) -> PartyBatch:
    """Parties ``[start, stop)``; each block's draws depend only on the seed and block number."""
    first, last = name_tables()
    blocks = range(start // BLOCK, -(-stop // BLOCK))
    internal, exited, fidx, lidx = [], [], [], []
    for block in blocks:
        rng = block_rng(seed, Stream.PARTY, block)
        is_internal = rng.random(BLOCK) < 0.5
        internal.append(is_internal)
        exited.append(~is_internal & (rng.random(BLOCK) < EXITED_SHARE))
        u, v = rng.random(BLOCK), rng.random(BLOCK)
        if realistic:  # common names are more common
            u, v = u * u, v * v
        fidx.append((u * len(first)).astype(np.int64))
        lidx.append((v * len(last)).astype(np.int64))
    cut = slice(start - blocks.start * BLOCK, stop - blocks.start * BLOCK)
    n = stop - start
    names = np.zeros((n, name_width()), dtype=np.uint8)
    names[:, : first.shape[1]] = first[np.concatenate(fidx)[cut]]
    names[:, first.shape[1]] = ord(" ")
    names[:, first.shape[1] + 1 :] = last[np.concatenate(lidx)[cut]]
    return PartyBatch(
        ids=table.ids[start:stop],
        internal=np.concatenate(internal)[cut],
        exited=np.concatenate(exited)[cut],
        suspicious=table.suspicious[start:stop],
        names=names,
    )
