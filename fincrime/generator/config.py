"""What to generate: :class:`GeneratorConfig`, its validation, and parsers for option text.

Every problem is an :class:`~fincrime.errors.InputError` naming the CLI option, so the CLI
and the Python API report the same one-line message.

>>> parse_count("1M", "--transactions"), parse_count("10_000", "--transactions")
(1000000, 10000)
>>> [ (r.name, r.count, r.min_size, r.max_size) for r in parse_typologies("cycle=2:5", 1000)]
[('cycle', 2, 5, 5)]
"""

from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fincrime.errors import InputError
from fincrime.generator.typologies import KINDS, TYPOLOGY_NAMES, TypologyRequest

FORMATS = ("nt", "nt.gz", "parquet")
#: ``--resolution``: the unit every date is rounded down to, in seconds
RESOLUTIONS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400}
PROFILES = ("original", "realistic")
#: Rows handled per step; output never depends on it (see randomness.BLOCK).
DEFAULT_CHUNK = 8192

_SUFFIX = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}
#: Bounds of a run: a trillion transactions is hundreds of terabytes of N-Triples already;
#: the party table stays in memory (about ``PARTY_BYTES`` a party), so it must fit.
MAX_TRANSACTIONS = 10**12
MAX_PARTIES = 10**10
PARTY_BYTES = 100
MAX_DAYS = 3_660_000  # the years 1000-9999


def parse_count(text: str | int, option: str) -> int:
    """``"10000"``, ``"10_000"``, ``"10k"``, ``"1M"``, ``"1e6"`` -> int (must be whole)."""
    if isinstance(text, bool):
        raise InputError(f"{option} must be a whole number (got {text!r})")
    if isinstance(text, int):
        return text
    raw = str(text).strip().replace("_", "").replace(",", "")
    scale = 1
    if raw and raw[-1].lower() in _SUFFIX:
        scale, raw = _SUFFIX[raw[-1].lower()], raw[:-1]
    try:
        value = float(raw) * scale if re.search(r"[.eE]", raw) else int(raw) * scale
    except ValueError:
        raise InputError(
            f"{option} must be a whole number such as 10000 or 1M (got {text!r})"
        ) from None
    if not float(value).is_integer():
        raise InputError(f"{option} must be a whole number (got {text!r})")
    return int(value)


def parse_end_date(text: str | datetime | None) -> datetime:
    """ISO date or date-time -> naive UTC datetime at whole seconds; ``None`` means now."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "now"):
        value = datetime.now(UTC)
    elif isinstance(text, datetime):
        value = text
    else:
        try:
            value = datetime.fromisoformat(str(text).strip())
        except ValueError:
            raise InputError(
                f"--end-date must be an ISO date or date-time such as 2024-06-30 or "
                f"2024-06-30T18:00:00 (got {text!r})"
            ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def parse_typologies(spec: str | None, transactions: int) -> list[TypologyRequest]:
    """``none`` | ``auto`` | ``name=COUNT[:SIZE[-MAX]],...`` -> requests (``auto`` scales)."""
    text = (spec or "none").strip().lower()
    if text in ("", "none", "0"):
        return []
    if text == "auto":
        count = math.ceil(transactions / 100_000) if transactions >= 1_000 else 0
        return [
            TypologyRequest(name, count, *kind.default_sizes)
            for name, kind in KINDS.items()
            if count
        ]
    requests: dict[str, TypologyRequest] = {}
    for item in text.split(","):
        item = item.strip()
        m = re.fullmatch(
            r"([a-z_]+)\s*=\s*([0-9_kKmM.eE]+)(?:\s*:\s*(\d+)(?:\s*-\s*(\d+))?)?", item
        )
        if not m:
            raise InputError(
                f"--typology: cannot read {item!r}; expected name=COUNT[:SIZE[-MAX]] such as "
                f"fan_in=20 or layering=5:4-12"
            )
        name, count_text, lo_text, hi_text = m.groups()
        kind = KINDS.get(name)
        if kind is None:
            raise InputError(
                f"--typology: unknown typology {name!r}; known: {', '.join(TYPOLOGY_NAMES)}"
            )
        count = parse_count(count_text, f"--typology {name}")
        if count < 0:
            raise InputError(f"--typology {name}: count must not be negative")
        lo, hi = kind.default_sizes
        if lo_text is not None:
            lo = int(lo_text)
            hi = int(hi_text) if hi_text is not None else lo
        if lo < kind.min_size or hi < lo:
            raise InputError(
                f"--typology {name}: size {lo}-{hi} is invalid; {kind.size_means} must be "
                f"at least {kind.min_size} and MIN <= MAX"
            )
        if name in requests:
            raise InputError(f"--typology: {name} is given twice")
        requests[name] = TypologyRequest(name, count, lo, hi)
    return [r for r in requests.values() if r.count]


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything ``fincrime generate`` can be told; defaults match the CLI.

    Numbers may also be given as option text (``"1M"``, ``"0.01"``): ``resolve()`` parses
    and validates them, so the CLI and Python callers get the same messages.

    ``parties=None`` means ``transactions // 10``; ``seed=None`` draws a fresh seed (reported
    back so the run can be repeated); ``end_date=None`` means now (UTC). ``typologies`` is the
    ``--typology`` text: ``"auto"`` (the default for the realistic profile: every typology,
    one attempt per 100,000 transactions), ``"none"`` (the default for the original profile)
    or ``"fan_in=20,cycle=10:5,layering=5:4-12"`` (``name=COUNT[:SIZE[-MAX]]``).
    """

    out: Path | str = Path("input/generated")
    transactions: int | str = 10_000
    parties: int | str | None = None
    suspicious_ratio: float | str = 0.0001
    days: int | str = 3
    end_date: datetime | str | None = None
    files: int | str = 1
    seed: int | str | None = None
    format: str = "nt"
    profile: str = "realistic"
    typologies: str | None = None
    chain_suspicious_prob: float | str = 1.0
    structuring_threshold: float | str = 10_000.0
    hop_margin: float | str = 0.03
    attempt_days: float | str | None = None
    resolution: str = "second"
    overwrite: bool = False
    chunk_size: int = DEFAULT_CHUNK
    gzip_level: int = 1

    def resolve(self) -> ResolvedConfig:
        """Validate and fill in the defaults; raises InputError naming the option."""
        t = _whole(self.transactions, "--transactions")
        if not 1 <= t <= MAX_TRANSACTIONS:
            raise InputError(f"--transactions must be between 1 and {MAX_TRANSACTIONS:,} (got {t:,})")
        p = t // 10 if self.parties is None else _whole(self.parties, "--parties")
        if self.parties is None and p < 2:
            p = 2
        if p < 2:
            raise InputError(
                f"--parties must be at least 2, a transfer needs two parties (got {p})"
            )
        if p > MAX_PARTIES:
            given = "" if self.parties is not None else " (by default, transactions/10)"
            raise InputError(f"--parties must be at most {MAX_PARTIES:,} (got {p:,}{given})")
        _check_party_memory(p)
        ratio = _number(self.suspicious_ratio, "--suspicious-ratio")
        if not 0.0 <= ratio <= 1.0:
            raise InputError(f"--suspicious-ratio must be between 0 and 1 (got {ratio})")
        days = _whole(self.days, "--days")
        if not 1 <= days <= MAX_DAYS:
            raise InputError(f"--days must be between 1 and {MAX_DAYS:,} (the years 1000-9999) (got {days:,})")
        files = _whole(self.files, "--files")
        if not 1 <= files <= min(t, p):
            raise InputError(
                f"--files must be between 1 and the smaller of --transactions and --parties "
                f"({min(t, p)}) (got {files})"
            )
        seed = secrets.randbits(63) if self.seed is None else _whole(self.seed, "--seed")
        if not 0 <= seed < 2**63:
            raise InputError(f"--seed must be between 0 and 2**63-1 (got {seed})")
        if self.format not in FORMATS:
            raise InputError(f"--format must be one of {', '.join(FORMATS)} (got {self.format!r})")
        if self.profile not in PROFILES:
            raise InputError(
                f"--profile must be one of {', '.join(PROFILES)} (got {self.profile!r})"
            )
        end = parse_end_date(self.end_date)
        try:
            start = end - timedelta(days=days)
        except OverflowError:  # before the year 1
            start = datetime.min
        if start.year < 1000 or end.year > 9999:
            raise InputError(
                f"--end-date/--days reach outside the years 1000-9999 ({start} to {end})"
            )
        prob = _number(self.chain_suspicious_prob, "--chain-suspicious-prob")
        if not 0.0 <= prob <= 1.0:
            raise InputError(f"--chain-suspicious-prob must be between 0 and 1 (got {prob})")
        threshold = _number(self.structuring_threshold, "--structuring-threshold")
        if not 10 <= threshold <= 1e12:
            raise InputError(
                f"--structuring-threshold must be between 10 and 1e12 (got {threshold})"
            )
        margin = _number(self.hop_margin, "--hop-margin")
        if not 0.0 < margin < 0.5:
            raise InputError(f"--hop-margin must be above 0 and below 0.5 (got {margin})")
        attempt_days = None
        if self.attempt_days is not None and str(self.attempt_days).strip().lower() not in ("", "none"):
            attempt_days = _number(self.attempt_days, "--attempt-days")
            if not 0 < attempt_days <= days:
                raise InputError(
                    f"--attempt-days must be above 0 and at most --days ({days}) (got {attempt_days:g})"
                )
        if self.resolution not in RESOLUTIONS:
            raise InputError(
                f"--resolution must be one of {', '.join(RESOLUTIONS)} (got {self.resolution!r})"
            )
        chunk = _whole(self.chunk_size, "chunk_size")
        if chunk < 1:
            raise InputError(f"chunk_size must be at least 1 (got {chunk})")
        level = _whole(self.gzip_level, "gzip_level")
        if not 0 <= level <= 9:
            raise InputError(f"gzip_level must be between 0 and 9 (got {level})")
        spec = self.typologies
        if spec is None:
            spec = "auto" if self.profile == "realistic" else "none"
        requests = parse_typologies(spec, t)
        if spec.strip().lower() == "auto":
            requests = _fit_auto(requests, t, p)
        _check_fits(requests, t, p, days * 86_400)
        return ResolvedConfig(
            source=replace(self, seed=seed, end_date=end, parties=p, typologies=spec),
            out=Path(os.fspath(self.out)),
            transactions=t,
            parties=p,
            suspicious_ratio=ratio,
            days=days,
            start=start,
            end=end,
            files=files,
            seed=seed,
            format=self.format,
            profile=self.profile,
            typologies=requests,
            chain_suspicious_prob=prob,
            structuring_threshold_cents=round(threshold * 100),
            hop_margin=margin,
            attempt_days=attempt_days,
            resolution=RESOLUTIONS[self.resolution],
            overwrite=bool(self.overwrite),
            chunk_size=chunk,
            gzip_level=level,
        )


@dataclass(frozen=True)
class ResolvedConfig:
    """A validated config with every default filled in (what a run actually used)."""

    source: GeneratorConfig
    out: Path
    transactions: int
    parties: int
    suspicious_ratio: float
    days: int
    start: datetime
    end: datetime
    files: int
    seed: int
    format: str
    profile: str
    typologies: list[TypologyRequest] = field(default_factory=list)
    chain_suspicious_prob: float = 1.0
    structuring_threshold_cents: int = 1_000_000
    hop_margin: float = 0.03
    attempt_days: float | None = None
    resolution: int = 1  # seconds
    overwrite: bool = False
    chunk_size: int = DEFAULT_CHUNK
    gzip_level: int = 1

    @property
    def window(self) -> tuple[int, int]:
        """``[start, end)`` in seconds since 1970-01-01 (naive, UTC)."""
        epoch = datetime(1970, 1, 1)
        return int((self.start - epoch).total_seconds()), int((self.end - epoch).total_seconds())


def _check_party_memory(parties: int) -> None:
    """The party table (ids, flags, activity weights) is held in memory for the whole run."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    need = parties * PARTY_BYTES
    if need > 0.8 * physical:
        raise InputError(
            f"--parties {parties:,} needs about {need / 1e9:,.0f} GB of memory for the party table, "
            f"more than this machine's {physical / 1e9:,.0f} GB",
            hint="use fewer parties",
        )


def _whole(value: object, option: str) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int | str) and not isinstance(value, bool):
        return parse_count(value, option)
    raise InputError(f"{option} must be a whole number (got {value!r})")


def _number(value: object, option: str) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{option} must be a number (got {value!r})") from None
    if not math.isfinite(out):
        raise InputError(f"{option} must be a finite number (got {value!r})")
    return out


def _fit_auto(requests: list[TypologyRequest], t: int, p: int) -> list[TypologyRequest]:
    """Shrink the automatic plan to what the dataset can hold (never an error)."""
    fitted = []
    for r in requests:
        kind = KINDS[r.name]
        hi = r.max_size
        while hi >= r.min_size and kind.parties(hi) > p:
            hi -= 1
        if hi >= r.min_size:
            fitted.append(replace(r, max_size=hi))
    budget = t // 20  # injected transfers stay a small share of the data
    while fitted and sum(KINDS[r.name].transactions(r.max_size) * r.count for r in fitted) > budget:
        fitted = [replace(r, count=r.count // 2) for r in fitted if r.count // 2]
    return fitted


def _check_fits(requests: list[TypologyRequest], t: int, p: int, seconds: int) -> None:
    worst = 0
    for r in requests:
        kind = KINDS[r.name]
        if kind.transactions(r.max_size) > seconds:  # each transfer needs its own second
            raise InputError(
                f"--typology {r.name}: size {r.max_size} needs more distinct seconds than "
                f"--days gives; use smaller attempts or more days"
            )
        need = kind.parties(r.max_size)
        if need > p:
            raise InputError(
                f"--typology {r.name}: size {r.max_size} needs {need} distinct parties but "
                f"--parties is {p}"
            )
        worst += kind.transactions(r.max_size) * r.count
    if worst > t:
        raise InputError(
            f"--typology: the attempts can need up to {worst:,} transactions but --transactions "
            f"is {t:,}; ask for fewer or smaller attempts"
        )
