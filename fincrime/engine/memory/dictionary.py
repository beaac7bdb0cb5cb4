"""Dictionary encoding of terms: canonical term strings <-> dense ``UInt32`` ids.

Relations hold ids only, so joins and deduplication work on integers. Lookups go through a
64-bit hash of each term (polars computes it in Rust); a hash hit is confirmed by comparing the
stored string, so a collision can never merge two terms: colliding terms take the exact path.

Typed values (numbers, date-times, booleans, lexical forms) are derived from the term strings on
first use, per attribute, and cached, so expressions compare values without re-parsing.
"""

from __future__ import annotations

import polars as pl

from fincrime.engine.memory.values import ATTRS, term_attributes

ID = pl.UInt32
_SEED = 0x5EED


class TermDictionary:
    def __init__(self) -> None:
        self._keys: list[pl.Series] = []  # chunks of term strings, in id order
        self._hashes: list[pl.Series] = []
        self._size = 0
        self._keys_flat: pl.Series | None = None
        self._index: pl.DataFrame | None = None  # (hash, id), rebuilt lazily after appends
        self._attr_cache: dict[str, pl.Series] = {}

    def __len__(self) -> int:
        return self._size

    # --- encoding -----------------------------------------------------------------------------
    def encode(self, terms: pl.Series) -> pl.Series:
        """Ids of the given term strings, adding the ones not seen before (nulls stay null)."""
        terms = terms.cast(pl.String)
        frame = pl.DataFrame({"key": terms})
        uniq = frame.filter(pl.col("key").is_not_null()).unique("key", maintain_order=True)
        if uniq.height == 0:
            return pl.Series(terms.name, [None] * terms.len(), dtype=ID)
        uniq = uniq.with_columns(pl.col("key").hash(seed=_SEED).alias("hash"))
        found = uniq.join(self._hash_index(), on="hash", how="left")
        if found["id"].null_count() < found.height:
            # confirm hash hits against the stored strings
            hits = found.filter(pl.col("id").is_not_null())
            stored = self.keys().gather(hits["id"])
            same = hits["key"] == stored
            if not same.all():
                found = self._resolve_collisions(found)
        # one key may match several stored hashes only through a collision: keep the exact one
        found = found.unique("key", keep="first", maintain_order=True)
        new = found.filter(pl.col("id").is_null())
        if new.height:
            ids = pl.Series("id", range(self._size, self._size + new.height), dtype=ID)
            self._append(new["key"], new["hash"])
            new = new.with_columns(ids)
            found = pl.concat([found.filter(pl.col("id").is_not_null()), new])
        mapping = found.select("key", "id")
        return frame.join(mapping, on="key", how="left", maintain_order="left")["id"].rename(
            terms.name or "id"
        )

    def encode_one(self, term: str) -> int:
        return int(self.encode(pl.Series([term]))[0])

    def lookup(self, terms: pl.Series) -> pl.Series:
        """Ids of known terms; unknown terms give null (nothing is added)."""
        frame = pl.DataFrame({"key": terms.cast(pl.String)}).with_columns(
            pl.col("key").hash(seed=_SEED).alias("hash")
        )
        found = frame.join(self._hash_index(), on="hash", how="left", maintain_order="left")
        ok = found["id"].is_not_null()
        if ok.any():
            stored = self.keys().gather(found["id"].fill_null(0))
            found = found.with_columns(
                pl.when(pl.Series(ok) & (pl.col("key") == stored)).then(pl.col("id")).alias("id")
            )
        return found["id"]

    def _resolve_collisions(self, found: pl.DataFrame) -> pl.DataFrame:
        keys = self.keys()
        exact = {keys[i]: i for i in found["id"].drop_nulls().unique().to_list()}
        rows = []
        for key, h in zip(found["key"].to_list(), found["hash"].to_list(), strict=True):
            rows.append((key, h, exact.get(key)))
        # a key whose hash collided with another stored term and is itself stored elsewhere:
        # scan the stored strings once for the exact match
        missing = {k for k, _, i in rows if i is None}
        if missing:
            for i, k in enumerate(keys.to_list()):
                if k in missing:
                    exact[k] = i
            rows = [(k, h, exact.get(k)) for k, h, _ in rows]
        return pl.DataFrame(
            rows, schema={"key": pl.String, "hash": pl.UInt64, "id": ID}, orient="row"
        )

    def _append(self, keys: pl.Series, hashes: pl.Series) -> None:
        self._keys.append(keys.rename("key"))
        self._hashes.append(hashes.rename("hash"))
        self._size += keys.len()
        self._keys_flat = None
        self._index = None

    def _hash_index(self) -> pl.DataFrame:
        if self._index is None:
            if not self._hashes:
                return pl.DataFrame(schema={"hash": pl.UInt64, "id": ID})
            hashes = pl.concat(self._hashes)
            self._index = pl.DataFrame(
                {"hash": hashes, "id": pl.int_range(0, hashes.len(), dtype=ID, eager=True)}
            )
        return self._index

    # --- decoding -----------------------------------------------------------------------------
    def keys(self) -> pl.Series:
        if self._keys_flat is None:
            self._keys_flat = (
                pl.concat(self._keys, rechunk=True) if self._keys else pl.Series("key", [], pl.String)
            )
        return self._keys_flat

    def decode(self, ids: pl.Series) -> pl.Series:
        return self.keys().gather(ids)

    def attribute(self, name: str) -> pl.Series:
        """The typed attribute ``name`` (see :data:`ATTRS`) of every term, by id."""
        cached = self._attr_cache.get(name)
        have = 0 if cached is None else cached.len()
        if have < self._size:
            fresh = term_attributes(self.keys().slice(have), [name])[name]
            cached = fresh if cached is None else pl.concat([cached, fresh], rechunk=True)
            self._attr_cache[name] = cached
        assert cached is not None
        return cached

    def gather_attributes(self, ids: pl.Series, names: list[str] | tuple[str, ...] = ATTRS) -> dict[str, pl.Series]:
        return {n: self.attribute(n).gather(ids) for n in names}
