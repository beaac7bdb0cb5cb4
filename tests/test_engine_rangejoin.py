"""The range join equals an inner join followed by the comparison, on frames and in rules."""

from __future__ import annotations

import polars as pl
import pytest
from engine_support import facts, run
from hypothesis import given, settings
from hypothesis import strategies as st

from fincrime.engine.memory import executor
from fincrime.engine.memory.rangejoin import OPERATORS, range_join

rows = st.lists(st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(-3, 3)), st.integers(0, 99)), max_size=25)


@settings(max_examples=150, deadline=None)
@given(rows, rows, st.sampled_from(OPERATORS))
def test_range_join_is_join_then_filter(left_rows, right_rows, op):
    left = pl.DataFrame(left_rows, schema={"k": pl.Int64, "a": pl.Int64, "y": pl.Int64}, orient="row")
    right = pl.DataFrame(right_rows, schema={"k": pl.Int64, "b": pl.Int64, "x": pl.Int64}, orient="row")
    compare = {"<": pl.col("a") < pl.col("b"), "<=": pl.col("a") <= pl.col("b"),
               ">": pl.col("a") > pl.col("b"), ">=": pl.col("a") >= pl.col("b")}[op]
    expected = left.join(right, on="k").filter(compare)
    got = range_join(left, right, ["k"], "a", op, "b", "a", "b")
    assert got.columns == expected.columns
    assert sorted(got.rows()) == sorted(expected.rows())


DT = "^^<http://www.w3.org/2001/XMLSchema#dateTime>"
INT = "^^<http://www.w3.org/2001/XMLSchema#integer>"


def _data(unordered: bool = False) -> str:
    lines = []
    for i in range(12):
        lines.append(f"<:t{i}> <:from> <:p{i % 3}> .")
        lines.append(f"<:t{i}> <:to> <:p{(i + 1) % 3}> .")
        lines.append(f'<:t{i}> <:at> "2024-01-0{1 + i % 9}T00:00:00"{DT} .')
        lines.append(f'<:t{i}> <:n> "{i % 5}"{INT} .')
    if unordered:
        lines.append('<:t0> <:at> "not a date" .')  # a value only the FILTER's dispatch handles
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("unordered", [False, True])
@pytest.mark.parametrize("compare", ["?d1 < ?d2", "?d2 <= ?d1", "?n1 > ?n2", "?n1 >= ?n2", "?d1 != ?d2"])
def test_rules_give_the_same_facts_with_and_without_range_joins(monkeypatch, compare, unordered):
    rules = f"""[?t1, :then, ?t2] :- [?t1, :to, ?p], [?t1, :at, ?d1], [?t1, :n, ?n1],
        [?t2, :from, ?p], [?t2, :at, ?d2], [?t2, :n, ?n2], FILTER({compare}) ."""
    monkeypatch.setattr(executor, "RANGE_MIN_ROWS", 10**9)
    plain = facts(run(rules, _data(unordered)))
    monkeypatch.setattr(executor, "RANGE_MIN_ROWS", 0)
    calls = []
    monkeypatch.setattr(executor, "range_join", lambda *a: calls.append(a[4]) or range_join(*a))
    ranged = facts(run(rules, _data(unordered)))
    assert plain == ranged
    # an order comparison of dates or integers runs as a range join
    assert bool(calls) == ("!=" not in compare and not (unordered and "?d" in compare))
    assert plain  # the comparison keeps some pairs
