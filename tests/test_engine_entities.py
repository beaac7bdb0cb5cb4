"""Entity tables (one row per minted node) give exactly the facts of plain triple storage.

The differential test draws programs that mint nodes, extend them recursively, read them as
stars, negate and count over them, read them through a variable predicate, and also break the
entity-table invariant on purpose: a second rule minting the same nodes with other values, a
rule giving a minted node a second value of a predicate, a rule restating a node's class. The
same program runs with and without entity tables; the derived facts must be equal.
"""

from __future__ import annotations

from engine_support import E, facts, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CONSTS = ["c0", "c1", "c2", "c3"]
INT = "^^<http://www.w3.org/2001/XMLSchema#integer>"

MINT = """[?N, a, :K], [?N, :p0, ?A], [?N, :p1, ?B], [?N, :len, 1] :-
    [?A, :e0, ?B], BIND(IRI(CONCAT("http://e/n", STR(?A), "_", STR(?B))) AS ?N) ."""
EXTEND = """[?M, a, :K], [?M, :p0, ?X], [?M, :p1, ?C], [?M, :len, ?L2], [?M, :prev, ?N] :-
    [?N, a, :K], [?N, :p0, ?X], [?N, :p1, ?B], [?N, :len, ?L], [?B, :e1, ?C],
    FILTER(?L < 3), BIND(?L + 1 AS ?L2), BIND(IRI(CONCAT(STR(?N), "_", STR(?C))) AS ?M) ."""
OPTIONAL = {
    # the same node names minted from other facts, with other values: one subject, two rows
    "collide": """[?N, a, :K], [?N, :p0, ?B], [?N, :p1, ?A], [?N, :len, 1] :-
        [?A, :e1, ?B], BIND(IRI(CONCAT("http://e/n", STR(?A), "_", STR(?B))) AS ?N) .""",
    # a second value of an entity predicate for minted nodes
    "second": "[?N, :p1, ?Y] :- [?N, a, :K], [?N, :p0, ?X], [?X, :e0, ?Y] .",
    # the class again, also for nodes that are not minted
    "reclass": "[?N, a, :K] :- [?N, :p0, ?X], [?X, :e1, ?Y] .\n[?X, :p0, ?Y] :- [?X, :e1, ?Y] .",
    "negate": "[?N, :done, ?X] :- [?N, a, :K], [?N, :p0, ?X], [?N, :p1, ?Y], NOT [?Y, :e0, ?X] .",
    "count": "[?X, :count, ?c] :- AGGREGATE([?N, :p0, ?X], [?N, a, :K] ON ?X BIND COUNT(?N) AS ?c) .",
    "anypred": "[?N, :has, ?P] :- [?N, a, :K], [?N, ?P, ?O] .",
    "byclass": "[?N, :typed, ?C] :- [?N, :len, ?L], [?N, a, ?C] .",
    "pairs": "[?N, :pair, ?M] :- [?N, :prev, ?M], [?N, :p0, ?X], [?M, :p0, ?X], [?M, :len, 1] .",
}


@st.composite
def cases(draw):
    chosen = draw(st.lists(st.sampled_from(sorted(OPTIONAL)), unique=True, max_size=4))
    edges = draw(st.sets(st.tuples(st.sampled_from(["e0", "e1"]), st.sampled_from(CONSTS), st.sampled_from(CONSTS)), min_size=1, max_size=14))
    rules = "\n".join([MINT, EXTEND, *(OPTIONAL[c] for c in chosen)])
    data = "".join(f"<{E}{s}> <{E}{p}> <{E}{o}> .\n" for p, s, o in sorted(edges))
    return rules, data


def node(*names: str) -> str:
    """The short name of the node minted for a path (MINT, then EXTEND per further step)."""
    return ":n" + "_".join(E + n for n in names)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_entity_tables_change_no_fact(case):
    rules, data = case
    assert facts(run(rules, data, entity_tables=True)) == facts(run(rules, data, entity_tables=False)), rules


def test_minted_nodes_are_stored_as_rows():
    data = "<:a> <:e0> <:b> .\n<:b> <:e1> <:c> .\n<:c> <:e1> <:d> .\n"
    result = run(f"{MINT}\n{EXTEND}", data)
    tables = [t for t in result.executor.entities.values() if len(t)]
    assert sorted(len(t) for t in tables) == [1, 2]  # one first-hop node, two extensions
    got = facts(result)
    first, second, third = node("a", "b"), node("a", "b", "c"), node("a", "b", "c", "d")
    assert (first, ":len", f'"1"{INT}') in got
    assert (third, ":len", f'"3"{INT}') in got
    assert (third, ":prev", second) in got


def test_second_value_evicts_the_row_and_keeps_both_values():
    data = "<:a> <:e0> <:b> .\n<:a> <:e0> <:c> .\n<:b> <:e1> <:d> .\n"
    rules = f"{MINT}\n{EXTEND}\n{OPTIONAL['second']}"
    result = run(rules, data)
    p1 = {(s, o) for s, p, o in facts(result) if p == ":p1"}
    # node a_b gets p1 = c as well as b: both values are facts
    assert (node("a", "b"), ":b") in p1 and (node("a", "b"), ":c") in p1
    assert facts(result) == facts(run(rules, data, entity_tables=False))


def test_rounds_evaluated_in_slices_give_the_same_facts(monkeypatch):
    from fincrime.engine.memory import executor

    data = "".join(f"<:c{i % 4}> <:e{i % 2}> <:c{(i * 3 + 1) % 4}> .\n" for i in range(12))
    rules = "\n".join([MINT, EXTEND, *OPTIONAL.values()])
    whole = facts(run(rules, data))
    monkeypatch.setattr(executor, "SLICE_ROWS", 1)
    assert facts(run(rules, data)) == whole
