"""Transactions: background traffic of a profile, overlaid with the planned attempts.

Profiles (per transaction):

``original``  the reference generator: originator and beneficiary uniform and distinct,
              amount = 1000 x U{1..10000} x one of {1, 10, 100} (whole units), date uniform.
``realistic`` heavy-tailed (Pareto) activity per party, drawn independently as payer and as
              payee (see :mod:`fincrime.generator.parties`), amounts from a
              log-normal mixture of retail and business payments with cents (a quarter in
              round units), dates thinned at weekends and clustered in business hours.

Every background value of output position ``i`` comes from RNG block ``i // BLOCK``; planned
attempt transfers then replace the rows at their positions.
"""

from __future__ import annotations

import numpy as np

from fincrime.generator.parties import PartyTable
from fincrime.generator.randomness import BLOCK, Stream, block_rng, entity_ids
from fincrime.generator.records import TransactionBatch
from fincrime.generator.typologies import Plan

DAY = 86_400


def _original(rng: np.random.Generator, n: int, parties: int, window: tuple[int, int]):
    orig = rng.integers(0, parties, n)
    ben = (orig + 1 + rng.integers(0, parties - 1, n)) % parties
    units = 1000 * rng.integers(1, 10_001, n) * rng.choice(np.array([1, 10, 100]), n)
    seconds = window[0] + rng.integers(0, window[1] - window[0], n)
    return orig, ben, units * 100, seconds


def _realistic(rng: np.random.Generator, n: int, table: PartyTable, window: tuple[int, int]):
    assert table.payers is not None and table.payees is not None
    parties = len(table)
    orig = table.payers.draw(rng.random(n))
    ben = table.payees.draw(rng.random(n))
    shifted = (orig + 1 + rng.integers(0, parties - 1, n)) % parties
    ben = np.where(ben == orig, shifted, ben)

    business = rng.random(n) < 0.12
    units = np.where(
        business, rng.lognormal(np.log(4_000), 1.2, n), rng.lognormal(np.log(85), 1.4, n)
    )
    cents = np.clip(np.round(units * 100), 1, 1e13).astype(np.int64)
    whole = rng.random(n) < 0.25
    cents = np.where(whole, np.maximum(cents - cents % 100, 100), cents)

    start, end = window
    base = start + rng.integers(0, end - start, n)
    weekend = ((base // DAY + 3) % 7) >= 5  # 1970-01-01 was a Thursday
    redraw = start + rng.integers(0, end - start, n)
    base = np.where(weekend & (rng.random(n) < 0.6), redraw, base)
    morning = rng.random(n) < 0.5
    hour = np.where(morning, rng.normal(10.5, 1.6, n), rng.normal(15.0, 1.8, n))
    clock = np.clip(hour * 3600, 0, DAY - 1).astype(np.int64)
    shaped = base - base % DAY + clock
    keep_shape = (rng.random(n) < 0.85) & (shaped >= start) & (shaped < end)
    return orig, ben, cents, np.where(keep_shape, shaped, base)


def transaction_batch(
    seed: int,
    table: PartyTable,
    plan: Plan,
    start: int,
    stop: int,
    window: tuple[int, int],
    *,
    realistic: bool,
    resolution: int = 1,
) -> TransactionBatch:
    """Transactions at output positions ``[start, stop)``; dates rounded down to ``resolution``
    seconds (the planned attempts' dates already are)."""
    blocks = range(start // BLOCK, -(-stop // BLOCK))
    parts = []
    for block in blocks:
        rng = block_rng(seed, Stream.TRANSACTION, block)
        if realistic:
            parts.append(_realistic(rng, BLOCK, table, window))
        else:
            parts.append(_original(rng, BLOCK, len(table), window))
    cut = slice(start - blocks.start * BLOCK, stop - blocks.start * BLOCK)
    orig, ben, cents, seconds = (np.concatenate(col)[cut] for col in zip(*parts, strict=True))
    rows = plan.between(start, stop)
    at = plan.position[rows] - start
    orig[at] = plan.originator[rows]
    ben[at] = plan.beneficiary[rows]
    cents[at] = plan.cents[rows]
    if resolution > 1:
        seconds = seconds - seconds % resolution
    seconds[at] = plan.seconds[rows]
    return TransactionBatch(
        ids=entity_ids(seed, Stream.TRANSACTION_ID, np.arange(start, stop, dtype=np.uint64)),
        originator=table.ids[orig],
        beneficiary=table.ids[ben],
        cents=cents.astype(np.int64),
        seconds=seconds.astype(np.int64),
    )
