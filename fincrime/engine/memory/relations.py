"""Relations of ids with the three views semi-naive evaluation needs.

Facts of a relation are stored as chunks: ``old`` (known before the last round), ``delta`` (new in
the last round) and ``pending`` (derived in the current round, invisible until the round ends).
"""

from __future__ import annotations

import polars as pl

from fincrime.rules.plan import RelKey

ID = pl.UInt32


def columns_of(key: RelKey) -> tuple[str, ...]:
    if key.kind == "p":
        return ("s", "o")
    if key.kind == "c":
        return ("s",)
    return tuple(f"c{i}" for i in range(key.arity))


class Relation:
    def __init__(self, key: RelKey) -> None:
        self.key = key
        self.columns = columns_of(key)
        self._old: list[pl.DataFrame] = []
        self._delta: list[pl.DataFrame] = []
        self._pending: list[pl.DataFrame] = []
        self._cache: dict[str, pl.DataFrame] = {}
        self.sizes = {"old": 0, "delta": 0, "pending": 0}
        # (rows in the full view after a round, that round): rows keep their order, so a fact's
        # round follows from its position, for explanations, at no cost per fact
        self.rounds: list[tuple[int, int]] = []

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema={c: ID for c in self.columns})

    def view(self, mode: str) -> pl.DataFrame:
        """``old``, ``delta`` or ``full`` (old + delta)."""
        cached = self._cache.get(mode)
        if cached is not None:
            return cached
        chunks = {"old": self._old, "delta": self._delta, "full": self._old + self._delta}[mode]
        frame = pl.concat(chunks, rechunk=True) if chunks else self.empty()
        if mode == "old" and len(self._old) > 1:
            self._old = [frame]  # keep few chunks: later concatenations stay cheap
        self._cache[mode] = frame
        return frame

    def size(self, mode: str) -> int:
        if mode == "full":
            return self.sizes["old"] + self.sizes["delta"]
        return self.sizes[mode]

    def __len__(self) -> int:
        return self.size("full") + self.sizes["pending"]

    def add(self, rows: pl.DataFrame, fresh_from: int | None = None) -> int:
        """Queue rows derived in this round; returns how many are really new.

        ``fresh_from``: the dictionary size when the round began. A row holding an id at or above
        it contains a term created in this round, so it cannot be among the stored facts.
        """
        rows = rows.select(self.columns).unique()
        if rows.height == 0:
            return 0
        known = self.size("full")
        if known:
            if fresh_from is not None:
                fresh = pl.any_horizontal([pl.col(c) >= fresh_from for c in self.columns])
                is_fresh = rows.select(fresh).to_series()
                if is_fresh.all():
                    pass  # every row holds a term minted this round: none can be stored already
                elif is_fresh.any():
                    stale = rows.filter(~is_fresh).join(self.view("full"), on=list(self.columns), how="anti")
                    rows = pl.concat([rows.filter(is_fresh), stale])
                else:
                    rows = rows.join(self.view("full"), on=list(self.columns), how="anti")
            else:
                rows = rows.join(self.view("full"), on=list(self.columns), how="anti")
        if self._pending and rows.height:
            rows = rows.join(pl.concat(self._pending), on=list(self.columns), how="anti")
        if rows.height:
            self._pending.append(rows)
            self.sizes["pending"] += rows.height
        return rows.height

    def commit(self, round_no: int = 0) -> int:
        """End of a round: delta joins old, pending becomes the new delta. Returns delta size."""
        if self.sizes["pending"]:
            self.rounds.append((self.size("full") + self.sizes["pending"], round_no))
        if self._delta:
            self._old.extend(self._delta)
        self.sizes["old"] += self.sizes["delta"]
        self._delta = self._pending
        self.sizes["delta"] = self.sizes["pending"]
        self._pending = []
        self.sizes["pending"] = 0
        self._cache.clear()
        return self.sizes["delta"]

    def round_of(self, row: dict[str, int]) -> int | None:
        """The round in which a fact was derived (None when it is not a fact)."""
        import bisect

        full = self.view("full").with_row_index("__row")
        hit = full.filter(pl.all_horizontal([pl.col(c) == v for c, v in row.items()]))
        if hit.height == 0:
            return None
        index = int(hit["__row"][0])
        pos = bisect.bisect_right([end for end, _ in self.rounds], index)
        return self.rounds[pos][1] if pos < len(self.rounds) else None
