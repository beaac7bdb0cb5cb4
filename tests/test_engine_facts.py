"""Facts written in rule files are loaded in bulk, one frame per relation (issue 13 item 10)."""

from __future__ import annotations

import polars as pl
from engine_support import facts, run

from fincrime.engine import materialize_frame
from fincrime.rules import parse_program
from fincrime.rules.facts import fact_rows

EMPTY = pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})


def tree_program(n: int) -> str:
    """``n`` edge facts of a binary tree (depth about log2 n), reached from its root."""
    edges = [f"[:n{i}, :edge, :n{2 * i + 1}] ." for i in range(n // 2)]
    edges += [f":edge[:n{i}, :n{2 * i + 2}] ." for i in range(n - n // 2)]
    return "\n".join(edges) + "\n:Reach[:n0] .\n:Reach[?y] :- :Reach[?x], [?x, :edge, ?y] .\n"


def test_fifty_thousand_facts_and_a_recursive_rule():
    program = parse_program(tree_program(50_000), prefixes={"": "http://e/"})
    result = materialize_frame(program, EMPTY)
    assert result.counts_by_class() == {"http://e/Reach": 50_001}
    assert result.counts_by_predicate()["http://e/edge"] == 50_000
    assert result.stats.rounds >= 15  # one round per tree level: the rule really recursed


def test_facts_are_grouped_per_relation_in_order_and_deduplicated_on_load():
    text = ":C[:a] . [:a, a, :C] . :p[:a, 1], :p[:b, 2] . tt:t(:a, 1, 2) . tt:t(:a, 1, 2) . :q[:x, :y] :G ."
    rows = fact_rows(parse_program(text, prefixes={"": "http://e/"}).facts)
    assert [len(r) for r in rows.values()] == [2, 2, 2, 1]
    result = run(text.replace(" :G .", " ."), "<:a> <:p> \"1\"^^<http://www.w3.org/2001/XMLSchema#integer> .")
    derived = facts(result)
    assert (":a", "a", ":C") in derived and (":b", ":p", '"2"^^<http://www.w3.org/2001/XMLSchema#integer>') in derived
    assert not any(s == ":a" and p == ":p" for s, p, _ in derived)  # already an input triple
    assert result.tuples("http://oxfordsemantic.tech/transactions/tupletables#t") == [
        ("<http://e/a>", '"1"^^<http://www.w3.org/2001/XMLSchema#integer>', '"2"^^<http://www.w3.org/2001/XMLSchema#integer>')
    ]
