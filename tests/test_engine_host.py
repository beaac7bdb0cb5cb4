"""Host functions (exact arithmetic in Python) run once per expression and per distinct argument
row on the in-memory executor: polars does not merge repeated Python calls, and a value's
fields (term, number, lexical form, error) all read the same call."""

from __future__ import annotations

import polars as pl
import pytest
from engine_support import facts, run

import fincrime.engine.memory.compile as compile_module
from fincrime.engine.memory.compile import run_host

RULE = """
[?t, :sec, ?sec] :- [?t, :on, ?d],
    BIND(365 * (YEAR(?d) - IF(MONTH(?d) <= 2, 1, 0)) + FLOOR((YEAR(?d) - IF(MONTH(?d) <= 2, 1, 0)) / 4) AS ?day),
    BIND(86400 * ?day + 3600 * HOURS(?d) + 60 * MINUTES(?d) + SECONDS(?d) AS ?sec) .
"""


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    seen: list[tuple[str, int]] = []

    def counting(name: str, args: list[pl.Series]) -> pl.Series:
        seen.append((name, len(args[0])))
        return run_host(name, args)

    monkeypatch.setattr(compile_module, "run_host", counting)
    return seen


def test_each_host_call_runs_once_per_expression(calls: list[tuple[str, int]]) -> None:
    data = "\n".join(f'<:t{i}> <:on> "2024-0{1 + i % 9}-15T10:00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime> .'
                     for i in range(40))
    derived = facts(run(RULE, data))
    day = 365 * 2023 + 2023 // 4  # January 2024 counts in 2023
    assert (":t0", ":sec", f'"{86400 * day + 36000}.0"^^<http://www.w3.org/2001/XMLSchema#decimal>') in derived
    assert len(derived) == 40
    # a handful of exact operations, each computed once however many fields of its value read
    # it (before: 88 calls of exact_add / exact_mul for this rule)
    exact = [c for c in calls if c[0].startswith("exact_")]
    assert 0 < len(exact) <= 8, calls


def test_distinct_argument_rows_are_computed_once() -> None:
    counted: list[tuple[object, ...]] = []

    def fn(*row: object) -> str:
        counted.append(row)
        return f"{row[1]}!"

    compile_module.HOST_FUNCTIONS["__test_bang"] = (fn, "str", 1)
    try:
        gate = pl.Series([1, 1, None, 1, 1])
        out = run_host("__test_bang", [gate, pl.Series(["a", "b", "a", "a", None])])
    finally:
        del compile_module.HOST_FUNCTIONS["__test_bang"]
    assert out.to_list() == ["a!", "b!", None, "a!", "None!"]
    assert sorted(counted, key=str) == sorted([(1, "a"), (1, "b"), (1, None)], key=str)
