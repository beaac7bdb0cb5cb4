"""Relations of ids with the three views semi-naive evaluation needs.

Facts of a relation are stored as chunks: ``old`` (known before the last round), ``delta`` (new in
the last round) and ``pending`` (derived in the current round, invisible until the round ends).
A triple relation may also see the columns of entity tables (:mod:`.entities`) that hold its
predicate or class: its views are its own chunks followed by those projections.
"""

from __future__ import annotations

from collections.abc import Collection

import polars as pl

from fincrime.engine.atoms import columns_of
from fincrime.engine.memory.entities import EntityTable
from fincrime.rules.plan import RelKey

ID = pl.UInt32


class Relation:
    def __init__(self, key: RelKey) -> None:
        self.key = key
        self.columns = columns_of(key)
        self._old: list[pl.DataFrame] = []
        self._delta: list[pl.DataFrame] = []
        self._pending: list[pl.DataFrame] = []
        self._cache: dict[tuple[str, ...], pl.DataFrame] = {}
        self.sizes = {"old": 0, "delta": 0, "pending": 0}
        # (rows in the full view after a round, that round): rows keep their order, so a fact's
        # round follows from its position, for explanations, at no cost per fact
        self.rounds: list[tuple[int, int]] = []
        self.entities: list[EntityTable] = []  # tables holding facts of this relation
        self._range: tuple[int, int] | None = None  # (lowest, highest) subject of own facts

    @property
    def member(self) -> str:
        """The predicate or class an entity table knows this relation by."""
        return self.key.name

    def attach(self, table: EntityTable) -> None:
        self.entities.append(table)
        self._cache.clear()

    def own_view(self, mode: str) -> pl.DataFrame:
        """The relation's own facts (no entity table), ``old``, ``delta`` or ``full``."""
        return self.view(mode, exclude=self.entities)

    def own_size(self, mode: str) -> int:
        if mode == "full":
            return self.sizes["old"] + self.sizes["delta"]
        return self.sizes[mode]

    def subject_range(self) -> tuple[int, int] | None:
        """Lowest and highest subject of the relation's own facts (None when it has none)."""
        if self._range is None and self.own_size("full"):
            column = self.columns[0]
            own = self.own_view("full")[column]
            self._range = (int(own.min()), int(own.max()))  # type: ignore[arg-type]
        return self._range

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema={c: ID for c in self.columns})

    def view(self, mode: str, exclude: Collection[EntityTable] = ()) -> pl.DataFrame:
        """``old``, ``delta`` or ``full`` (old + delta): own facts, then those of the entity
        tables not in ``exclude``."""
        tables = [t for t in self.entities if t not in exclude]
        cache_key = (mode, *(t.name for t in tables))
        cached = self._cache.get(cache_key)
        if cached is not None:
            return cached
        chunks = {"old": self._old, "delta": self._delta, "full": self._old + self._delta}[mode]
        frame = pl.concat(chunks, rechunk=True) if chunks else self.empty()
        if mode == "old" and len(self._old) > 1:
            self._old = [frame]  # keep few chunks: later concatenations stay cheap
        parts = [t.project(self.member, mode) for t in tables if t.size(mode)]
        if parts:
            names = list(self.columns)
            frame = pl.concat([frame, *(p.rename(dict(zip(p.columns, names, strict=True))) for p in parts)], rechunk=True)
        self._cache[cache_key] = frame
        return frame

    def size(self, mode: str, exclude: Collection[EntityTable] = ()) -> int:
        return self.own_size(mode) + sum(t.size(mode) for t in self.entities if t not in exclude)

    def __len__(self) -> int:
        return self.size("full") + self.sizes["pending"] + sum(t.sizes["pending"] for t in self.entities)

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
        if self.sizes["delta"]:
            self._range = None
        return self.sizes["delta"]

    def append(self, rows: pl.DataFrame) -> None:
        """Queue rows without deduplication (a bulk load; :meth:`dedupe_pending` follows)."""
        if rows.height:
            self._pending.append(rows.select(self.columns))
            self.sizes["pending"] += rows.height

    def dedupe_pending(self) -> None:
        """Drop repeated queued rows, and those the relation holds already."""
        if not self._pending:
            return
        rows = self.pending_frame().unique(maintain_order=True)
        if self.size("full"):
            rows = rows.join(self.view("full"), on=list(self.columns), how="anti", maintain_order="left")
        self._pending = [rows] if rows.height else []
        self.sizes["pending"] = rows.height

    def pending_frame(self) -> pl.DataFrame:
        return pl.concat(self._pending, rechunk=True) if self._pending else self.empty()

    def drop_pending(self, rows: pl.DataFrame) -> None:
        """Withdraw queued facts (an entity table holds them already)."""
        if rows.height == 0 or not self._pending:
            return
        kept = self.pending_frame().join(rows.select(self.columns), on=list(self.columns), how="anti")
        self._pending = [kept] if kept.height else []
        self.sizes["pending"] = kept.height

    def invalidate(self) -> None:
        """Forget cached views (an attached entity table changed)."""
        self._cache.clear()

    def round_of(self, row: dict[str, int]) -> int | None:
        """The round in which a fact was derived (None when it is not a fact)."""
        import bisect

        for table in self.entities:
            stored = table.row(row["s"])
            if stored is not None and (
                self.key.kind == "c" or stored[table.column_of(self.member)] == row.get("o")
            ):
                return table.round_of(row["s"])
        full = self.own_view("full").with_row_index("__row")
        hit = full.filter(pl.all_horizontal([pl.col(c) == v for c, v in row.items()]))
        if hit.height == 0:
            return None
        index = int(hit["__row"][0])
        pos = bisect.bisect_right([end for end, _ in self.rounds], index)
        return self.rounds[pos][1] if pos < len(self.rounds) else None
