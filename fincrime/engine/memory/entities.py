"""Entity tables: the facts a rule head writes about a freshly minted subject, as one row.

A head shape (:mod:`fincrime.rules.stars`) such as a chain's class, originator, dates and amounts
is stored as one row ``s, c0 .. cn`` (one column per predicate) instead of n+1 triple relations.
The triple relations of those predicates see the table's columns as extra chunks (see
:class:`~fincrime.engine.memory.relations.Relation`), so every reader of triples is unchanged,
while a body star over the same predicates reads the rows directly: one scan instead of a join
per attribute.

Invariant that makes the direct read exact: *a subject of an entity table has, for the table's
predicates and classes, no facts anywhere but its one row*, and it is the subject of no other
entity table. Rows are only accepted for subjects minted in the round that writes them (no older
fact can mention them); at the end of a round the executor evicts any row whose subject turned
out to have another row or another value (:meth:`EntityTable.evict`), turning it back into plain
triples.
"""

from __future__ import annotations

import polars as pl

ID = pl.UInt32


class EntityTable:
    def __init__(self, name: str, classes: tuple[str, ...], predicates: tuple[str, ...]) -> None:
        self.name = name
        self.classes = classes
        self.predicates = predicates
        self.columns = ("s", *(f"c{i}" for i in range(len(predicates))))
        self._chunks: dict[str, list[pl.DataFrame]] = {"old": [], "delta": [], "pending": []}
        self.sizes = {"old": 0, "delta": 0, "pending": 0}
        self._cache: dict[str, pl.DataFrame] = {}
        self.lowest: int | None = None  # smallest and largest subject id ever stored
        self.highest: int | None = None
        self.rounds: list[tuple[int, int]] = []  # (rows in the full view after a round, round)

    def __repr__(self) -> str:
        return f"EntityTable({self.name}, {len(self)} rows)"

    def __len__(self) -> int:
        return self.size("full") + self.sizes["pending"]

    def column_of(self, predicate: str) -> str:
        return f"c{self.predicates.index(predicate)}"

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema={c: ID for c in self.columns})

    def size(self, mode: str) -> int:
        if mode == "full":
            return self.sizes["old"] + self.sizes["delta"]
        return self.sizes[mode]

    def view(self, mode: str) -> pl.DataFrame:
        """``old``, ``delta``, ``full`` or ``pending`` rows."""
        cached = self._cache.get(mode)
        if cached is not None:
            return cached
        chunks = self._chunks["old"] + self._chunks["delta"] if mode == "full" else self._chunks[mode]
        frame = pl.concat(chunks, rechunk=True) if chunks else self.empty()
        if mode == "old" and len(self._chunks["old"]) > 1:
            self._chunks["old"] = [frame]
        if mode != "pending":
            self._cache[mode] = frame
        return frame

    def project(self, member: str, mode: str) -> pl.DataFrame:
        """The facts of one predicate (``s, o``) or class (``s``) held by the table."""
        frame = self.view(mode)
        if member in self.classes:
            return frame.select("s")
        return frame.select("s", pl.col(self.column_of(member)).alias("o"))

    def holds(self, member: str) -> bool:
        return member in self.classes or member in self.predicates

    def add(self, rows: pl.DataFrame) -> None:
        """Queue rows of this round (subjects minted this round, checked by the caller)."""
        if rows.height == 0:
            return
        rows = rows.select(self.columns)
        self._chunks["pending"].append(rows)
        self.sizes["pending"] += rows.height
        lo, hi = rows["s"].min(), rows["s"].max()
        self.lowest = lo if self.lowest is None else min(self.lowest, lo)  # type: ignore[type-var]
        self.highest = hi if self.highest is None else max(self.highest, hi)  # type: ignore[type-var]

    def settle_pending(self) -> pl.DataFrame:
        """Deduplicate the queued rows (several evaluations of a round may find one row) and
        return them."""
        if not self._chunks["pending"]:
            return self.empty()
        rows = pl.concat(self._chunks["pending"], rechunk=True)
        if len(self._chunks["pending"]) > 1:
            rows = rows.unique(maintain_order=True)
        self._chunks["pending"] = [rows] if rows.height else []
        self.sizes["pending"] = rows.height
        return rows

    def evict(self, subjects: pl.Series) -> dict[str, pl.DataFrame]:
        """Remove the rows of ``subjects`` from every state; returns the removed rows by state.
        Round boundaries move down by the rows removed before them, so the rounds of the rows
        that stay are unchanged."""
        keys = subjects.unique().to_frame("s")
        removed: dict[str, pl.DataFrame] = {}
        offset = 0
        gone: list[int] = []
        for state in ("old", "delta", "pending"):
            frame = self.view(state) if self._chunks[state] else self.empty()
            indexed = frame.with_row_index("__row", offset)
            offset += frame.height
            hit = indexed.join(keys, on="s", how="semi")
            if hit.height == 0:
                continue
            if state != "pending":
                gone += hit["__row"].to_list()
            kept = frame.join(keys, on="s", how="anti")
            self._chunks[state] = [kept] if kept.height else []
            self.sizes[state] = kept.height
            removed[state] = hit.drop("__row")
        if gone:
            import bisect

            gone.sort()
            self.rounds = [(end - bisect.bisect_left(gone, end), r) for end, r in self.rounds]
        self._cache.clear()
        return removed

    def commit(self, round_no: int = 0) -> int:
        """End of a round: delta joins old, pending becomes the new delta. Returns delta size."""
        if self.sizes["pending"]:
            self.rounds.append((self.size("full") + self.sizes["pending"], round_no))
        self._chunks["old"].extend(self._chunks["delta"])
        self.sizes["old"] += self.sizes["delta"]
        self._chunks["delta"] = self._chunks["pending"]
        self.sizes["delta"] = self.sizes["pending"]
        self._chunks["pending"] = []
        self.sizes["pending"] = 0
        self._cache.clear()
        return self.sizes["delta"]

    def round_of(self, subject: int) -> int | None:
        import bisect

        full = self.view("full").with_row_index("__row")
        hit = full.filter(pl.col("s") == subject)
        if hit.height == 0:
            return None
        index = int(hit["__row"][0])
        pos = bisect.bisect_right([end for end, _ in self.rounds], index)
        return self.rounds[pos][1] if pos < len(self.rounds) else None

    def row(self, subject: int) -> dict[str, int] | None:
        hit = self.view("full").filter(pl.col("s") == subject)
        return hit.row(0, named=True) if hit.height else None
