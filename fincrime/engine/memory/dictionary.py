"""Dictionary encoding of terms: canonical term strings <-> dense ``UInt32`` ids.

Relations hold ids only, so joins and deduplication work on integers. Lookups go through a
64-bit hash of each term (polars computes it in Rust); a hash hit is confirmed by comparing the
stored string, so a collision can never merge two terms: colliding terms take the exact path.

Typed values (numbers, date-times, booleans, lexical forms) are derived from the term strings on
first use, per attribute, and cached, so expressions compare values without re-parsing.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fincrime.engine.memory.hashindex import MISSING, HashIndex
from fincrime.engine.memory.values import ATTRS, term_attributes

ID = pl.UInt32
_SEED = 0x5EED


def _compact(strings: pl.Series) -> pl.Series:
    """The strings in buffers of their own.

    Polars strings are views into shared buffers, so the new terms filtered out of a parsed
    chunk keep that chunk's whole text alive: on 10M transactions the dictionary's few GB of
    terms pinned the input's 12 GB of text, and reading alone filled the machine. Concatenating
    with an empty string writes each string again (about 0.2 µs a term)."""
    return pl.select(pl.concat_str([pl.lit(strings), pl.lit("")])).to_series().rename(strings.name)


class TermDictionary:
    def __init__(self) -> None:
        self._keys: list[pl.Series] = []  # chunks of term strings, in id order
        self._size = 0
        self._keys_flat: pl.Series | None = None
        self._index = HashIndex()
        self._memo: dict[str, int] = {}  # single terms looked up again and again (rule constants)
        self._attr_cache: dict[str, pl.Series] = {}
        self._attr_pending: dict[str, list[pl.Series]] = {}
        self._attr_done = 0  # terms whose attributes are derived
        self._ranks: tuple[pl.Series, pl.Series] | None = None

    def __len__(self) -> int:
        return self._size

    # --- encoding -----------------------------------------------------------------------------
    def _find(self, keys: pl.Series) -> pl.Series:
        """Ids of known keys (null for unknown ones); exact, whatever the hash says."""
        hashes = keys.hash(seed=_SEED).to_numpy()
        found = self._index.find(hashes)
        hit = found != MISSING
        ids = np.where(hit, found, 0)
        if hit.any():
            stored = self.keys().gather(pl.Series(ids.astype(np.uint32)))
            same = (keys == stored).fill_null(False).to_numpy()
            collided = hit & ~same
            if collided.any():  # another term has the same hash: compare every candidate
                key_list = keys.to_list()
                for i in np.flatnonzero(collided):
                    found[i] = MISSING
                    for cand in self._index.find_all(int(hashes[i])):
                        if self.keys()[cand] == key_list[i]:
                            found[i] = cand
                            break
                hit = found != MISSING
        return pl.Series("id", np.where(hit, found, 0), dtype=ID).scatter(np.flatnonzero(~hit), None) if (~hit).any() else pl.Series("id", found, dtype=ID)

    def encode(self, terms: pl.Series) -> pl.Series:
        """Ids of the given term strings, adding the ones not seen before (nulls stay null)."""
        terms = terms.cast(pl.String)
        uniq = terms.drop_nulls().unique(maintain_order=True)
        if uniq.len() == 0:
            return pl.Series(terms.name, [None] * terms.len(), dtype=ID)
        ids = self._find(uniq)
        missing = ids.is_null()
        if missing.any():
            new_keys = uniq.filter(missing)
            new_ids = np.arange(self._size, self._size + new_keys.len(), dtype=np.int64)
            self._append(new_keys, new_ids)
            ids = ids.scatter(np.flatnonzero(missing.to_numpy()), pl.Series(new_ids, dtype=ID))
        if uniq.len() == terms.len() and terms.null_count() == 0:
            # distinct input: the order of uniq is the order of terms
            return ids.rename(terms.name or "id")
        mapping = pl.DataFrame({"key": uniq, "id": ids})
        return pl.DataFrame({"key": terms}).join(mapping, on="key", how="left", maintain_order="left")[
            "id"
        ].rename(terms.name or "id")

    def encode_one(self, term: str) -> int:
        found = self._memo.get(term)
        if found is None:
            found = int(self.encode(pl.Series([term]))[0])
            self._memo[term] = found
        return found

    def lookup_one(self, term: str) -> int | None:
        found = self._memo.get(term)
        if found is None:
            hit = self._find(pl.Series([term]))[0]
            if hit is None:
                return None
            found = self._memo[term] = int(hit)
        return found

    def lookup(self, terms: pl.Series) -> pl.Series:
        """Ids of known terms; unknown terms give null (nothing is added)."""
        return self._find(terms.cast(pl.String))

    def _append(self, keys: pl.Series, ids: np.ndarray) -> None:
        self._keys.append(_compact(keys.rename("key")))
        self._index.add(keys.hash(seed=_SEED).to_numpy(), ids)
        self._size += keys.len()
        self._keys_flat = None

    # --- decoding -----------------------------------------------------------------------------
    def keys(self) -> pl.Series:
        if self._keys_flat is None:
            if not self._keys:
                return pl.Series("key", [], pl.String)
            flat = pl.concat(self._keys, rechunk=False)
            if flat.n_chunks() > 32:
                flat = flat.rechunk()
                self._keys = [flat]
            self._keys_flat = flat
        return self._keys_flat

    def decode(self, ids: pl.Series) -> pl.Series:
        return self.keys().gather(ids)

    def ranks(self) -> pl.Series:
        """Each id's position in an order of all terms that depends on the terms only (their
        64-bit hash, then the text where two hashes are equal): ordering facts by the ranks of
        their terms gives the same order in every run, whatever order the ids were given in,
        without sorting strings."""
        return self._ranked()[0]

    def ranked_terms(self) -> pl.Series:
        """Every term, in rank order (``ranked_terms()[ranks()[id]]`` is the term of ``id``)."""
        return self._ranked()[1]

    def _ranked(self) -> tuple[pl.Series, pl.Series]:
        if self._ranks is None or self._ranks[0].len() != self._size:
            keys = self.keys()
            hashes = keys.hash(seed=_SEED).to_numpy()
            order = np.argsort(hashes, kind="stable")
            ordered = hashes[order]
            tied = np.flatnonzero(ordered[1:] == ordered[:-1])
            if tied.size:  # equal hashes: those runs of ids ordered by their text
                starts = np.unique(np.concatenate([tied, tied + 1]))
                for run in np.split(starts, np.flatnonzero(np.diff(starts) > 1) + 1):
                    ids = order[run]
                    order[run] = ids[np.argsort(keys.gather(ids).to_numpy())]
            ranks = pl.Series("rank", np.empty(self._size, dtype=np.uint32)).scatter(
                order, pl.int_range(self._size, eager=True, dtype=pl.UInt32))
            self._ranks = (ranks, keys.gather(pl.Series(order, dtype=pl.UInt32)).rename("term"))
        return self._ranks

    def attribute(self, name: str) -> pl.Series:
        """The typed attribute ``name`` (see :data:`ATTRS`) of every term, by id.

        The attributes of a new range of terms are derived together, once, into per-attribute
        pending chunks; an attribute's column is re-flattened only when that attribute is read,
        so reading dates never copies the (large) lexical forms."""
        if self._attr_done < self._size:
            fresh = term_attributes(self.keys().slice(self._attr_done), ATTRS)
            for attr in ATTRS:
                self._attr_pending.setdefault(attr, []).append(fresh[attr])
            self._attr_done = self._size
        pending = self._attr_pending.pop(name, None)
        cached = self._attr_cache.get(name)
        if pending:
            # one chunk: a gather from a chunked column looks up the chunk of every index,
            # which made random gathers several times slower than this copy
            parts = ([cached] if cached is not None else []) + pending
            cached = pl.concat(parts, rechunk=True)
            self._attr_cache[name] = cached
        assert cached is not None
        return cached

    def gather_attributes(self, ids: pl.Series, names: list[str] | tuple[str, ...] = ATTRS) -> dict[str, pl.Series]:
        return {n: self.attribute(n).gather(ids) for n in names}
