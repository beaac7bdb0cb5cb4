"""Option parsing and validation of :class:`GeneratorConfig`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincrime.errors import InputError
from fincrime.generator import KINDS, GeneratorConfig
from fincrime.generator.config import parse_count, parse_end_date, parse_typologies


@given(st.integers(min_value=0, max_value=10**12))
def test_counts_in_every_spelling(n: int) -> None:
    assert parse_count(str(n), "--x") == n
    assert parse_count(f"{n:_}", "--x") == n
    assert parse_count(f"{n:,}", "--x") == n


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from([("k", 10**3), ("M", 10**6), ("m", 10**6)]),
)
def test_count_suffixes(n: int, suffix: tuple[str, int]) -> None:
    letter, scale = suffix
    assert parse_count(f"{n}{letter}", "--x") == n * scale


@pytest.mark.parametrize("text", ["", "ten", "1.5", "1e-3", "2x", "--5"])
def test_bad_counts_name_the_option(text: str) -> None:
    with pytest.raises(InputError, match="--transactions"):
        parse_count(text, "--transactions")


def test_end_date_forms() -> None:
    assert parse_end_date("2024-06-30") == datetime(2024, 6, 30)
    assert parse_end_date("2024-06-30T18:30:05.9") == datetime(2024, 6, 30, 18, 30, 5)
    assert parse_end_date("2024-06-30T18:00:00+02:00") == datetime(2024, 6, 30, 16, 0, 0)
    assert parse_end_date("2024-06-30T18:00:00Z") == datetime(2024, 6, 30, 18, 0, 0)
    now = parse_end_date(None)
    assert now.tzinfo is None and abs(datetime.now(UTC).replace(tzinfo=None) - now) < timedelta(
        seconds=5
    )


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(sorted(KINDS)),
        st.tuples(st.integers(0, 50), st.integers(0, 8), st.integers(0, 8)),
        min_size=1,
    )
)
def test_typology_specs_round_trip(items: dict[str, tuple[int, int, int]]) -> None:
    parts, expected = [], {}
    for name, (count, a, b) in items.items():
        lo = KINDS[name].min_size + min(a, b)
        hi = KINDS[name].min_size + max(a, b)
        parts.append(f"{name}={count}:{lo}-{hi}")
        if count:
            expected[name] = (count, lo, hi)
    got = {
        r.name: (r.count, r.min_size, r.max_size) for r in parse_typologies(",".join(parts), 10**6)
    }
    assert got == expected


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3_000_000), st.integers(2, 100_000))
def test_auto_typologies_always_fit(transactions: int, parties: int) -> None:
    rc = GeneratorConfig(
        transactions=transactions, parties=parties, typologies="auto", seed=1
    ).resolve()
    worst_tx = sum(KINDS[r.name].transactions(r.max_size) * r.count for r in rc.typologies)
    assert worst_tx <= max(transactions // 20, 0)
    assert all(KINDS[r.name].parties(r.max_size) <= parties for r in rc.typologies)


def test_defaults() -> None:
    rc = GeneratorConfig(transactions="2k", end_date="2024-06-30").resolve()
    assert (rc.transactions, rc.parties, rc.files, rc.days, rc.format, rc.profile) == (
        2000, 200, 1, 3, "nt", "realistic",
    )  # fmt: skip
    assert rc.start == datetime(2024, 6, 27) and 0 <= rc.seed < 2**63
    assert [r.name for r in rc.typologies] == []  # too small for any automatic attempt
    big = GeneratorConfig(transactions="1M", end_date="2024-06-30").resolve()
    assert {r.name: r.count for r in big.typologies} == dict.fromkeys(KINDS, 10)
    original = GeneratorConfig(transactions="1M", profile="original").resolve()
    assert original.typologies == []
    assert GeneratorConfig(transactions=5).resolve().parties == 2  # never fewer than two
