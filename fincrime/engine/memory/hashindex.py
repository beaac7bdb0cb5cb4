"""A growing map from 64-bit term hashes to ids, as sorted runs (a tiny LSM tree).

Lookups cost O(k log n) per run with ``numpy.searchsorted`` instead of building a hash table
over the whole dictionary, which made every small lookup O(n). Runs are merged like a binary
counter, so appends cost O(n log n) in total.
"""

from __future__ import annotations

import numpy as np

MISSING = np.iinfo(np.int64).max


class HashIndex:
    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted hashes, ids in that order)

    def add(self, hashes: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        run = (hashes[order], ids[order].astype(np.int64))
        while self._runs and len(self._runs[-1][0]) <= len(run[0]):
            prev = self._runs.pop()
            merged_h = np.concatenate([prev[0], run[0]])
            merged_i = np.concatenate([prev[1], run[1]])
            order = np.argsort(merged_h, kind="stable")
            run = (merged_h[order], merged_i[order])
        self._runs.append(run)

    def find(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, one id stored under it (or MISSING). Equal hashes of different terms
        (collisions) are told apart by the caller, which compares the strings."""
        # sorted probes walk each run front to back: far fewer cache misses than random probes
        order = np.argsort(hashes, kind="stable") if len(hashes) > 64 else None
        probes = hashes[order] if order is not None else hashes
        found = np.full(len(probes), MISSING, dtype=np.int64)
        for keys, ids in self._runs:
            pos = np.searchsorted(keys, probes)
            pos_ok = pos < len(keys)
            hit = np.zeros(len(probes), dtype=bool)
            hit[pos_ok] = keys[pos[pos_ok]] == probes[pos_ok]
            take = hit & (found == MISSING)
            found[take] = ids[pos[take]]
        if order is None:
            return found
        out = np.empty_like(found)
        out[order] = found
        return out

    def find_all(self, h: int) -> list[int]:
        """Every id stored under one hash (for the rare collision path)."""
        found: list[int] = []
        for keys, ids in self._runs:
            lo = np.searchsorted(keys, h, side="left")
            hi = np.searchsorted(keys, h, side="right")
            found += ids[lo:hi].tolist()
        return found
