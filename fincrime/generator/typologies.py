"""Laundering typologies: what each one looks like, and the plan of injected attempts.

Every attempt is a small set of distinct parties and time-ordered transfers between them. The
plan is computed up front (it is small) and stored sorted by output position, so the
transaction stream can overlay it chunk by chunk. Shapes (``k`` = the size option):

=============== ===================================================== ============ =========
typology        shape                                                 transactions parties
=============== ===================================================== ============ =========
fan_in          k sources pay one collector                           k            k+1
fan_out         one source pays k recipients                          k            k+1
cycle           p0 -> p1 -> ... -> p(k-1) -> p0, dates increasing     k            k
scatter_gather  source -> k mules, then every mule -> one target      2k           k+2
gather_scatter  k sources -> hub, then hub -> k recipients            2k           2k+1
layering        p0 -> p1 -> ... -> pk: a chain of k hops, dates       k            k+1
                strictly increasing, amount shrinking by a margin
structuring     k deposits just under the threshold from k//4 smurfs  k            k//4+1
bipartite       every one of k payers pays every one of k payees      k*k          2k
=============== ===================================================== ============ =========

Layering chains are exactly what chain rules look for: a time-ordered transfer chain whose
originator and final beneficiary are (each with ``chain_suspicious_prob``) suspicious.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

DAY = 86_400
HOUR = 3_600


@dataclass(frozen=True)
class TypologyRequest:
    """How many attempts of one typology, and the range their size is drawn from."""

    name: str
    count: int
    min_size: int
    max_size: int


@dataclass(frozen=True)
class Shape:
    """The transfers of one attempt, in time order; party numbers index the attempt's parties."""

    originator: np.ndarray
    beneficiary: np.ndarray
    cents: np.ndarray
    seconds: np.ndarray
    #: endpoints (attempt-local) to mark suspicious with ``chain_suspicious_prob``
    endpoints: tuple[int, ...] = ()


@dataclass(frozen=True)
class AmountRules:
    """Amount conventions of the profile, shared by every typology."""

    unit: int  # smallest step in cents: 100 for whole-unit profiles, 1 otherwise
    hop_margin: float  # mean fraction kept back at each hop
    threshold_cents: int  # structuring reporting threshold

    def lognormal(
        self, rng: np.random.Generator, median: float, sigma: float, n: int
    ) -> np.ndarray:
        units = rng.lognormal(np.log(median), sigma, n)
        return self.snap(np.round(units * 100))

    def snap(self, cents: np.ndarray) -> np.ndarray:
        """Round down to the profile's unit, never below one unit."""
        c = np.asarray(cents, dtype=np.int64)
        return np.maximum(c - c % self.unit, self.unit)

    def decay(self, rng: np.random.Generator, start: int, hops: int) -> np.ndarray:
        """``hops`` strictly decreasing amounts from ``start``, each a margin below the last."""
        margins = rng.uniform(0.5 * self.hop_margin, 1.5 * self.hop_margin, hops)
        out = np.empty(hops, dtype=np.int64)
        amount = max(int(start), self.unit * (hops + 1))
        for i in range(hops):
            out[i] = amount
            kept = int(amount * (1.0 - margins[i]))
            amount = max(min(kept - kept % self.unit, amount - self.unit), self.unit)
        return out


@dataclass(frozen=True)
class Kind:
    """One typology: its size bounds, its cost, and the builder of one attempt."""

    name: str
    min_size: int
    default_sizes: tuple[int, int]
    transactions: Callable[[int], int]
    parties: Callable[[int], int]
    build: Callable[[np.random.Generator, int, tuple[int, int], AmountRules, int], Shape]
    size_means: str
    #: seconds the transfers of an attempt of size k spread over, unless ``--attempt-days``
    span: Callable[[int], int] = lambda k: 3 * DAY


def increasing_times(
    rng: np.random.Generator, count: int, window: tuple[int, int], span: int
) -> np.ndarray:
    """``count`` strictly increasing second stamps inside ``span`` seconds of ``window``."""
    start, end = window
    span = max(min(span, end - start), count)
    first = int(rng.integers(start, end - span + 1))
    offsets = np.sort(rng.choice(span, size=count, replace=False))
    return first + offsets.astype(np.int64)


def _range(k: int) -> np.ndarray:
    return np.arange(k, dtype=np.int64)


def _fan_in(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    base = float(rng.lognormal(np.log(3_000), 0.6))
    return Shape(
        originator=_range(k) + 1,
        beneficiary=np.zeros(k, dtype=np.int64),
        cents=a.lognormal(rng, base, 0.25, k),
        seconds=increasing_times(rng, k, window, span),
    )


def _fan_out(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    fan = _fan_in(rng, k, window, a, span)
    return Shape(fan.beneficiary, fan.originator, fan.cents, fan.seconds)


def _cycle(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    start = a.lognormal(rng, 20_000, 0.7, 1)[0]
    return Shape(
        originator=_range(k),
        beneficiary=(_range(k) + 1) % k,
        cents=a.decay(rng, start, k),
        seconds=increasing_times(rng, k, window, span),
    )


def _layering(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    start = a.lognormal(rng, 50_000, 0.6, 1)[0]
    return Shape(
        originator=_range(k),
        beneficiary=_range(k) + 1,
        cents=a.decay(rng, start, k),
        seconds=increasing_times(rng, k, window, span),
        endpoints=(0, k),
    )


def _scatter_gather(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    # source 0, mules 1..k, target k+1; every mule forwards after all scatters
    sent = a.lognormal(rng, float(rng.lognormal(np.log(8_000), 0.5)), 0.2, k)
    kept = rng.uniform(0.5 * a.hop_margin, 1.5 * a.hop_margin, k)
    forwarded = np.minimum(a.snap(sent * (1.0 - kept)), np.maximum(sent - a.unit, a.unit))
    mules = _range(k) + 1
    return Shape(
        originator=np.concatenate([np.zeros(k, dtype=np.int64), mules]),
        beneficiary=np.concatenate([mules, np.full(k, k + 1, dtype=np.int64)]),
        cents=np.concatenate([sent, forwarded]),
        seconds=increasing_times(rng, 2 * k, window, span),
    )


def _gather_scatter(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    # sources 0..k-1, hub k, recipients k+1..2k; the hub pays out after it has collected
    received = a.lognormal(rng, float(rng.lognormal(np.log(5_000), 0.5)), 0.3, k)
    pot = int(received.sum() * (1.0 - a.hop_margin))
    shares = rng.dirichlet(np.full(k, 4.0)) * pot
    paid = a.snap(np.round(shares))
    return Shape(
        originator=np.concatenate([_range(k), np.full(k, k, dtype=np.int64)]),
        beneficiary=np.concatenate([np.full(k, k, dtype=np.int64), _range(k) + k + 1]),
        cents=np.concatenate([received, paid]),
        seconds=increasing_times(rng, 2 * k, window, span),
    )


def _structuring(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    # beneficiary 0, smurfs 1..s take turns; every deposit in [90%, 100%) of the threshold
    smurfs = max(1, k // 4)
    low = int(a.threshold_cents * 0.9)
    cents = a.snap(rng.integers(low, a.threshold_cents, k))
    return Shape(
        originator=1 + _range(k) % smurfs,
        beneficiary=np.zeros(k, dtype=np.int64),
        cents=cents,
        seconds=increasing_times(rng, k, window, span),
    )


def _bipartite(
    rng: np.random.Generator, k: int, window: tuple[int, int], a: AmountRules, span: int
) -> Shape:
    payer, payee = np.divmod(_range(k * k), k)
    order = rng.permutation(k * k)
    return Shape(
        originator=payer[order],
        beneficiary=payee[order] + k,
        cents=a.lognormal(rng, float(rng.lognormal(np.log(4_000), 0.5)), 0.3, k * k),
        seconds=increasing_times(rng, k * k, window, span),
    )


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("fan_in", 2, (5, 12), lambda k: k, lambda k: k + 1, _fan_in, "sources", lambda k: 2 * DAY),
        Kind(
            "fan_out", 2, (5, 12), lambda k: k, lambda k: k + 1, _fan_out, "recipients",
            lambda k: 2 * DAY,
        ),
        Kind(
            "cycle", 2, (3, 8), lambda k: k, lambda k: k, _cycle, "parties in the cycle",
            lambda k: 4 * DAY,
        ),
        Kind(
            "scatter_gather", 2, (3, 8), lambda k: 2 * k, lambda k: k + 2, _scatter_gather, "mules"
        ),
        Kind(
            "gather_scatter",
            2,
            (3, 8),
            lambda k: 2 * k,
            lambda k: 2 * k + 1,
            _gather_scatter,
            "parties per side",
        ),
        Kind(
            "layering", 2, (3, 10), lambda k: k, lambda k: k + 1, _layering, "hops",
            lambda k: k * 8 * HOUR,
        ),
        Kind(
            "structuring",
            2,
            (8, 20),
            lambda k: k,
            lambda k: max(1, k // 4) + 1,
            _structuring,
            "deposits",
        ),
        Kind(
            "bipartite", 2, (2, 4), lambda k: k * k, lambda k: 2 * k, _bipartite, "parties per side"
        ),
    )
}

TYPOLOGY_NAMES: tuple[str, ...] = tuple(KINDS)


@dataclass
class Plan:
    """Injected attempts; transaction arrays are sorted by output position."""

    typology: list[str]  # per attempt
    parties: list[np.ndarray]  # per attempt: global party indices, attempt-local order
    position: np.ndarray
    originator: np.ndarray
    beneficiary: np.ndarray
    cents: np.ndarray
    seconds: np.ndarray
    attempt: np.ndarray
    step: np.ndarray
    forced_suspicious: np.ndarray

    @property
    def transactions(self) -> int:
        return len(self.position)

    def between(self, start: int, stop: int) -> slice:
        """The plan rows whose output position lies in ``[start, stop)``."""
        lo, hi = np.searchsorted(self.position, [start, stop])
        return slice(int(lo), int(hi))


def empty_plan() -> Plan:
    z = np.zeros(0, dtype=np.int64)
    return Plan([], [], z, z, z, z, z, z, z, z)


def plan_attempts(
    rng: np.random.Generator,
    requests: list[TypologyRequest],
    *,
    parties: int,
    transactions: int,
    window: tuple[int, int],
    amounts: AmountRules,
    chain_suspicious_prob: float,
    attempt_days: float | None = None,
    resolution: int = 1,
) -> Plan:
    """Draw every attempt, its parties, dates and amounts, and its positions in the stream.

    ``attempt_days`` spreads each attempt over a random span of half to all of that many days
    instead of its typology's own span; ``resolution`` (seconds) rounds every date down, so
    with ``86400`` the transfers of one day share one instant.
    """
    names: list[str] = []
    members: list[np.ndarray] = []
    columns: dict[str, list[np.ndarray]] = {
        k: [] for k in ("originator", "beneficiary", "cents", "seconds", "attempt", "step")
    }
    forced: list[int] = []
    for req in requests:
        kind = KINDS[req.name]
        for _ in range(req.count):
            size = int(rng.integers(req.min_size, req.max_size + 1))
            who = rng.choice(parties, size=kind.parties(size), replace=False).astype(np.int64)
            if attempt_days is None:
                span = kind.span(size)
            else:
                span = int(rng.uniform(0.5, 1.0) * attempt_days * DAY)
            shape = kind.build(rng, size, window, amounts, span)
            n = len(shape.cents)
            columns["originator"].append(who[shape.originator])
            columns["beneficiary"].append(who[shape.beneficiary])
            columns["cents"].append(shape.cents)
            columns["seconds"].append(shape.seconds - shape.seconds % resolution)
            columns["attempt"].append(np.full(n, len(names), dtype=np.int64))
            columns["step"].append(np.arange(n, dtype=np.int64))
            flagged = rng.random(len(shape.endpoints)) < chain_suspicious_prob
            forced.extend(int(who[e]) for e, f in zip(shape.endpoints, flagged, strict=True) if f)
            names.append(req.name)
            members.append(who)
    if not names:
        return empty_plan()
    cols = {k: np.concatenate(v) for k, v in columns.items()}
    total = len(cols["cents"])
    position = rng.choice(transactions, size=total, replace=False).astype(np.int64)
    order = np.argsort(position, kind="stable")
    return Plan(
        typology=names,
        parties=members,
        position=position[order],
        originator=cols["originator"][order],
        beneficiary=cols["beneficiary"][order],
        cents=cols["cents"][order],
        seconds=cols["seconds"][order],
        attempt=cols["attempt"][order],
        step=cols["step"][order],
        forced_suspicious=np.unique(np.array(forced, dtype=np.int64)),
    )
