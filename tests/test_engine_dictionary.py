"""The term dictionary: exact ids, and terms that own their memory."""

from __future__ import annotations

import polars as pl

from fincrime.engine.memory.dictionary import TermDictionary

LONG = [f"<http://example.org/a/rather/long/iri/that/is/not/inlined/{i:08d}>" for i in range(100_000)]


def _buffer_bytes(strings: pl.Series) -> int:
    array = strings.to_arrow(compat_level=pl.CompatLevel.newest())
    return sum(b.size for b in array.buffers() if b is not None)


def test_new_terms_do_not_pin_the_text_they_came_from() -> None:
    """Ten new terms among 100k strings keep their own bytes only, not the 8 MB chunk (on
    10M transactions the pinned input text filled the machine before reasoning began)."""
    terms = TermDictionary()
    terms.encode(pl.Series(LONG[:99_990]))
    ids = terms.encode(pl.Series(LONG))
    assert ids.to_list() == list(range(100_000))
    assert _buffer_bytes(terms._keys[-1]) < 10 * 2 * len(LONG[0])
    assert terms.decode(pl.Series([99_995], dtype=pl.UInt32)).to_list() == [LONG[99_995]]


def test_ids_are_stable_and_lookups_add_nothing() -> None:
    terms = TermDictionary()
    first = terms.encode(pl.Series(["<http://e/a>", "<http://e/b>", "<http://e/a>", None])).to_list()
    assert first == [0, 1, 0, None]
    assert terms.lookup(pl.Series(["<http://e/b>", "<http://e/c>"])).to_list() == [1, None]
    assert len(terms) == 2
