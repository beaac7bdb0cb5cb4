"""Vectorized text building blocks agree with Python's own formatting."""

from __future__ import annotations

import gzip
import io
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincrime.generator.parties import WeightedSampler
from fincrime.generator.randomness import BLOCK, Stream, block_rng, entity_ids
from fincrime.generator.textcodec import (
    RecordLayout,
    amount_matrix,
    choose_text,
    datetime_matrix,
    int_digits,
    left_align,
    padded_to_strings,
    squeeze_rows,
)
from fincrime.rdf.gzipstream import ParallelGzip

EPOCH = datetime(1970, 1, 1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**15), min_size=1, max_size=40))
def test_int_digits_matches_str(values: list[int]) -> None:
    width = len(str(max(values)))
    rows = squeeze_rows(int_digits(np.array(values), width))
    assert [r.decode() for r in rows] == [str(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        min_size=1,
        max_size=40,
    )
)
def test_datetime_matrix_matches_isoformat(stamps: list[datetime]) -> None:
    stamps = [s.replace(microsecond=0) for s in stamps]
    seconds = np.array([(s - EPOCH) // timedelta(seconds=1) for s in stamps], dtype=np.int64)
    got = [bytes(r).decode() for r in datetime_matrix(seconds)]
    assert got == [s.isoformat() for s in stamps]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**13), min_size=1, max_size=40))
def test_amounts_with_cents_and_whole_units(cents: list[int]) -> None:
    text = [r.decode() for r in squeeze_rows(amount_matrix(np.array(cents), whole_units=False))]
    assert text == [f"{c // 100}.{c % 100:02d}" for c in cents]
    whole = [c - c % 100 for c in cents]
    text = [r.decode() for r in squeeze_rows(amount_matrix(np.array(whole), whole_units=True))]
    assert text == [str(c // 100) for c in whole]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=30))
def test_trailing_and_masked_rendering_agree(values: list[int]) -> None:
    arr = np.array(values)
    width = len(str(max(values)))
    tail = left_align(int_digits(arr, width), b"|\n", width + 2)
    trailing = RecordLayout([b"<", ("id", 2), b"> ", ("n", width + 2)], variable={"n"})
    ids = np.full((len(arr), 2), ord("x"), dtype=np.uint8)
    assert trailing.trailing
    expected = "".join(f"<xx> {v}|\n" for v in values).encode()
    assert bytes(trailing.render(len(arr), id=ids, n=tail)) == expected
    masked = RecordLayout([b"<", ("id", 2), b"> ", ("n", width), b"|\n"], variable={"n"})
    assert not masked.trailing
    assert bytes(masked.render(len(arr), id=ids, n=int_digits(arr, width))) == expected


def test_choose_text_and_arrow_strings() -> None:
    padded = choose_text(np.array([True, False, True]), b"true", b"false")
    offsets, data = padded_to_strings(padded)
    assert bytes(data) == b"truefalsetrue" and offsets.tolist() == [0, 4, 9, 13]


def test_layout_rejects_too_wide_values() -> None:
    layout = RecordLayout([("a", 2)])
    with pytest.raises(ValueError, match="slot holds 2"):
        layout.render(1, a=np.zeros((1, 3), dtype=np.uint8))


def test_ids_are_unique_uuid4_hex_and_chunk_independent() -> None:
    ids = entity_ids(3, Stream.PARTY_ID, np.arange(50_000, dtype=np.uint64))
    text = [bytes(r).decode() for r in ids]
    assert len(set(text)) == len(text)
    assert all(t[12] == "4" and t[16] in "89ab" for t in text)  # UUID4 version and variant
    again = entity_ids(3, Stream.PARTY_ID, np.arange(1000, 1010, dtype=np.uint64))
    assert [bytes(r).decode() for r in again] == text[1000:1010]
    other_seed = entity_ids(4, Stream.PARTY_ID, np.arange(10, dtype=np.uint64))
    assert {bytes(r).decode() for r in other_seed}.isdisjoint(text[:10])


def test_block_rng_is_a_function_of_seed_stream_and_block() -> None:
    a = block_rng(1, Stream.TRANSACTION, 5).random(BLOCK)
    b = block_rng(1, Stream.TRANSACTION, 5).random(BLOCK)
    c = block_rng(1, Stream.TRANSACTION, 6).random(BLOCK)
    d = block_rng(1, Stream.PARTY, 5).random(BLOCK)
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, d)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=1, max_size=60).filter(
        lambda w: sum(w) > 0
    ),
    st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), min_size=1, max_size=200),
)
def test_weighted_sampler_matches_a_binary_search(weights: list[float], draws: list[float]) -> None:
    sampler = WeightedSampler(np.array(weights))
    u = np.array(draws + [i / sampler.buckets for i in range(sampler.buckets)])
    expected = np.minimum(
        np.searchsorted(sampler.cdf, u * sampler.total, side="right"), len(weights) - 1
    )
    assert sampler.draw(u).tolist() == expected.tolist()


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=0, max_size=5_000),
    st.lists(st.integers(min_value=1, max_value=700), max_size=12),
    st.integers(min_value=1, max_value=900),
)
def test_parallel_gzip_round_trips_and_ignores_write_sizes(
    text: bytes, cuts: list[int], piece: int
) -> None:
    def compress(splits: list[int]) -> bytes:
        sink = io.BytesIO()
        gz = ParallelGzip(sink, "t.nt.gz", level=1, piece=piece)
        pos = 0
        for size in splits:
            gz.write(text[pos : pos + size])
            pos += size
        gz.write(text[pos:])
        gz.close()
        return sink.getvalue()

    one = compress([])
    assert gzip.decompress(one) == text
    assert compress(cuts) == one  # same bytes however the text arrives
    with gzip.open(io.BytesIO(one)) as fh:  # a standard reader sees the file name and data
        assert fh.read() == text
    assert one[3] & 0x08 and one[10:15] == b"t.nt\0"


def test_reused_rows_neither_alias_earlier_output_nor_keep_stale_digits() -> None:
    trailing = RecordLayout([b"<", ("n", 8)], variable={"n"})
    masked = RecordLayout([b"<", ("n", 6), b">\n"], variable={"n"})
    first_t = trailing.render(2, n=left_align(int_digits(np.array([123456, 7]), 6), b"\n", 8))
    first_m = masked.render(2, n=int_digits(np.array([123456, 7]), 6))
    kept_t, kept_m = bytes(first_t), bytes(first_m)
    second_t = trailing.render(2, n=left_align(int_digits(np.array([9, 42]), 2), b"\n", 8))
    second_m = masked.render(2, n=int_digits(np.array([9, 42]), 2))  # narrower than the slot
    assert bytes(second_t) == b"<9\n<42\n" and bytes(second_m) == b"<9>\n<42>\n"
    assert bytes(first_t) == kept_t == b"<123456\n<7\n"
    assert bytes(first_m) == kept_m == b"<123456>\n<7>\n"
