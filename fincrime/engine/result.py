"""What a materialization produced: derived triples, counts and timings."""

from __future__ import annotations

import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from fincrime.engine.memory.executor import MemoryExecutor, RunStats
from fincrime.rdf.ntriples import write_ntriples
from fincrime.rules.plan import TYPE_IRI, RelKey


class TripleResult(ABC):
    """What every executor returns: derived triples, counts and ``timings`` (seconds per phase).

    Derived triples are those not among the input triples (rule-file facts included), each a
    tuple of canonical N-Triples term strings.
    """

    timings: dict[str, float]

    @abstractmethod
    def triples(self, derived_only: bool = True) -> Iterator[tuple[str, str, str]]: ...

    @abstractmethod
    def write_ntriples(self, path: str | os.PathLike[str], derived_only: bool = True) -> int: ...

    @abstractmethod
    def counts_by_class(self, derived_only: bool = True) -> dict[str, int]: ...

    @abstractmethod
    def counts_by_predicate(self, derived_only: bool = True) -> dict[str, int]: ...

    @abstractmethod
    def count(self, derived_only: bool = True) -> int: ...


class Result(TripleResult):
    """Facts after reasoning. Input facts come first in every relation, so the derived facts
    of a relation are the rows after its input rows."""

    def __init__(self, executor: MemoryExecutor, input_rows: dict[RelKey, int], timings: dict[str, float]) -> None:
        self.executor = executor
        self._input_rows = input_rows
        self.timings = timings

    @property
    def stats(self) -> RunStats:
        return self.executor.stats

    def _frames(self, derived_only: bool) -> Iterator[tuple[RelKey, pl.DataFrame]]:
        for key in sorted(self.executor.relations, key=lambda k: (k.kind, k.name)):
            frame = self.executor.relations[key].view("full")
            if derived_only:
                frame = frame.slice(self._input_rows.get(key, 0))
            if frame.height:
                yield key, frame

    def _decode(self, key: RelKey, frame: pl.DataFrame) -> pl.DataFrame:
        terms = self.executor.terms
        if key.kind == "c":
            return pl.DataFrame({
                "s": terms.decode(frame["s"]),
                "p": pl.Series([TYPE_IRI] * frame.height, dtype=pl.String),
                "o": pl.Series([key.name] * frame.height, dtype=pl.String),
            })
        if key.kind == "p":
            return pl.DataFrame({
                "s": terms.decode(frame["s"]),
                "p": pl.Series([key.name] * frame.height, dtype=pl.String),
                "o": terms.decode(frame["o"]),
            })
        raise ValueError("tuple tables are not triples")

    def triples(self, derived_only: bool = True) -> Iterator[tuple[str, str, str]]:
        """Triples as canonical N-Triples term strings."""
        for key, frame in self._frames(derived_only):
            if key.kind == "t":
                continue
            yield from self._decode(key, frame).iter_rows()

    def triples_frame(self, derived_only: bool = True) -> pl.DataFrame:
        frames = [self._decode(k, f) for k, f in self._frames(derived_only) if k.kind != "t"]
        if not frames:
            return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
        return pl.concat(frames)

    def tuples(self, table: str) -> list[tuple[str, ...]]:
        """Rows of an n-ary tuple table, decoded."""
        out: list[tuple[str, ...]] = []
        for key, frame in self._frames(False):
            if key.kind == "t" and key.name == table:
                cols = [self.executor.terms.decode(frame[c]) for c in frame.columns]
                out += list(zip(*(c.to_list() for c in cols), strict=True))
        return out

    def frames(self, derived_only: bool = True, batch: int = 1_000_000) -> Iterator[pl.DataFrame]:
        """Decoded ``s, p, o`` frames of at most ``batch`` triples: memory stays bounded by
        the batch, not by the number of derived triples."""
        for key, frame in self._frames(derived_only):
            if key.kind == "t":
                continue
            for start in range(0, frame.height, batch):
                yield self._decode(key, frame.slice(start, batch))

    def write_ntriples(self, path: str | os.PathLike[str], derived_only: bool = True) -> int:
        """Write the (derived) triples as N-Triples, atomically and streaming; the time goes to
        ``timings['write']``."""
        started = time.perf_counter()
        count = write_ntriples(Path(path), self.frames(derived_only))
        self.timings["write"] = time.perf_counter() - started
        return count

    def counts_by_class(self, derived_only: bool = True) -> dict[str, int]:
        return {
            key.name[1:-1]: frame.height for key, frame in self._frames(derived_only) if key.kind == "c"
        }

    def counts_by_predicate(self, derived_only: bool = True) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, frame in self._frames(derived_only):
            if key.kind == "p":
                out[key.name[1:-1]] = frame.height
            elif key.kind == "c":
                out[TYPE_IRI[1:-1]] = out.get(TYPE_IRI[1:-1], 0) + frame.height
        return out

    def count(self, derived_only: bool = True) -> int:
        return sum(f.height for k, f in self._frames(derived_only) if k.kind != "t")
