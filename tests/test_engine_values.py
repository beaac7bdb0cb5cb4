"""SPARQL value semantics on both executors: NaN, exact integers and decimals, ill-typed
literals, deterministic aggregates (GROUP_CONCAT order, RDFox's MUL / COUNT_MAX / *_ARGMAX),
the order of IRIs and SKOLEM. Each topic is one program, run once per executor."""

from __future__ import annotations

import hashlib
import re

import pytest
from engine_support import ENGINES, engine_runner, facts, objects

XSD = "http://www.w3.org/2001/XMLSchema#"
INT, DEC, DBL = f"^^<{XSD}integer>", f"^^<{XSD}decimal>", f"^^<{XSD}double>"

NUMBERS = f"""
<:nan> <:v> "NaN"{DBL} .
<:seven> <:v> "7"{INT} .
<:big> <:v> "9223372036854775807"{INT} .
<:ill> <:v> "12.5"^^<{XSD}int> .
<:byte> <:v> "300"^^<{XSD}byte> .
<:w1> <:w> "9007199254740993"{INT} .
<:w2> <:w> "9007199254740992"{INT} .
<:d1> <:d> "0.1"{DEC} .
<:d2> <:d> "0.2"{DEC} .
"""
NUMBER_RULES = """
[?x, a, :Gt5] :- [?x, :v, ?v], FILTER(?v > 5) .
[?x, a, :SelfEq] :- [?x, :v, ?v], FILTER(?v = ?v) .
[?x, a, :SelfNe] :- [?x, :v, ?v], FILTER(?v != ?v) .
[?x, a, :Ordered] :- [?x, :v, ?v], FILTER(?v < 5 || ?v >= 5) .
[?x, a, :Numeric] :- [?x, :v, ?v], FILTER(ISNUMERIC(?v)) .
[?x, a, :Not125] :- [?x, :v, ?v], FILTER(!(?v = 12.5)) .
[?x, :twice, ?d] :- [?x, :v, ?v], BIND(?v + ?v AS ?d) .
[?x, :square, ?d] :- [?x, :v, ?v], BIND(?v * ?v AS ?d) .
[?x, :less, ?d] :- [?x, :v, ?v], BIND(?v - 1 AS ?d) .
[?x, :above, ?y] :- [?x, :w, ?a], [?y, :w, ?b], FILTER(?a > ?b) .
[?x, :same, ?y] :- [?x, :w, ?a], [?y, :w, ?b], FILTER(?a = ?b) .
[?x, :plus, ?s] :- [?x, :d, ?a], [:d2, :d, ?b], BIND(?a + ?b AS ?s) .
[?x, :third, ?t] :- [?x, :d, ?a], BIND(?a / 3 AS ?t) .
[?x, :floor, ?f] :- [?x, :d, ?a], BIND(FLOOR(?a * 25) AS ?f) .
[:all, :sum, ?s], [:all, :avg, ?m] :- AGGREGATE([?x, :d, ?v] BIND SUM(?v) AS ?s BIND AVG(?v) AS ?m) .
"""


@pytest.fixture(params=ENGINES, scope="module")
def run(request):  # type: ignore[no-untyped-def]
    return engine_runner(request.param)


@pytest.fixture(scope="module")
def numbers(run):  # type: ignore[no-untyped-def]
    return run(NUMBER_RULES, NUMBERS)


def _members(result, cls: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {s for s, _, o in facts(result, "a") if o == cls}


def test_nan_compares_false_and_ill_typed_numerals_are_no_numbers(numbers):
    assert _members(numbers, ":Gt5") == {":seven", ":big"}  # not NaN, not "12.5"^^xsd:int
    assert _members(numbers, ":SelfEq") == {":seven", ":big", ":ill", ":byte"}  # NaN = NaN is false
    assert _members(numbers, ":SelfNe") == {":nan"}
    assert _members(numbers, ":Ordered") == {":seven", ":big"}
    assert _members(numbers, ":Numeric") == {":seven", ":big", ":nan"}
    # an ill-typed literal compared with another term is an error, so !(... = 12.5) fails too
    assert _members(numbers, ":Not125") == {":seven", ":big", ":nan"}


def test_integers_are_exact_beyond_64_bits(numbers):
    twice = objects(numbers, ":twice")
    assert twice[":big"] == f'"18446744073709551614"{INT}'
    assert twice[":seven"] == f'"14"{INT}'
    assert twice[":nan"] == f'"NaN"{DBL}'
    assert ":ill" not in twice and ":byte" not in twice  # an ill-typed operand is an error
    assert objects(numbers, ":square")[":big"] == f'"{(2**63 - 1) ** 2}"{INT}'
    assert objects(numbers, ":less")[":big"] == f'"9223372036854775806"{INT}'
    # the two doubles are equal; the integers are not
    assert facts(numbers, ":above") == {(":w1", ":above", ":w2")}
    assert facts(numbers, ":same") == {(":w1", ":same", ":w1"), (":w2", ":same", ":w2")}


def test_decimals_are_exact(numbers):
    assert objects(numbers, ":plus") == {":d1": f'"0.3"{DEC}', ":d2": f'"0.4"{DEC}'}
    assert objects(numbers, ":third")[":d1"] == f'"0.033333333333333333"{DEC}'  # 18 digits
    assert objects(numbers, ":floor") == {":d1": f'"2.0"{DEC}', ":d2": f'"5.0"{DEC}'}
    assert objects(numbers, ":sum") == {":all": f'"0.3"{DEC}'}
    assert objects(numbers, ":avg") == {":all": f'"0.15"{DEC}'}


NAMES = "".join(f'<:t{i}> <:to> <:h> .\n<:t{i}> <:name> "{n}" .\n' for i, n in enumerate(["zeta", "alpha", "mid", "alpha"]))


@pytest.mark.parametrize("engine", ["memory", "memory-file", pytest.param("spark", marks=pytest.mark.spark)])
def test_group_concat_joins_in_code_point_order_on_every_path(engine):
    r = engine_runner(engine)(
        "[?h, :names, ?all], [?h, :distinct, ?d], [?h, :first, ?s] :- AGGREGATE([?t, :to, ?h], [?t, :name, ?n] ON ?h "
        "BIND GROUP_CONCAT(?n) AS ?all BIND GROUP_CONCAT(DISTINCT ?n, \",\") AS ?d BIND SAMPLE(?n) AS ?s) .",
        NAMES,
    )
    # each distinct body answer once: the two alphas are different transactions
    assert objects(r, ":names") == {":h": '"alpha alpha mid zeta"'}
    assert objects(r, ":distinct") == {":h": '"alpha,mid,zeta"'}
    assert objects(r, ":first") == {":h": '"alpha"'}  # SAMPLE is the least value


PAYMENTS = "".join(
    f'<:t{i}> <:by> <:p> .\n<:t{i}> <:name> "{n}" .\n<:t{i}> <:amount> "{a}"{INT} .\n'
    for i, (n, a) in enumerate([("bob", 10), ("cy", 30), ("al", 30), ("dee", 5)])
)


def test_rdfox_aggregates_mul_count_max_and_argmax(run):
    r = run(
        "[?p, :product, ?m], [?p, :atMax, ?cmax], [?p, :atMin, ?cmin], [?p, :firstOfMax, ?f], "
        "[?p, :lastOfMax, ?l], [?p, :countOfMax, ?c], [?p, :amountOfFirst, ?s] :- "
        "AGGREGATE([?t, :by, ?p], [?t, :name, ?n], [?t, :amount, ?a] ON ?p "
        "BIND MUL(?a) AS ?m BIND COUNT_MAX(?a) AS ?cmax BIND COUNT_MIN(?a) AS ?cmin "
        "BIND MIN_ARGMAX(?n, ?a) AS ?f BIND MAX_ARGMAX(?n, ?a) AS ?l BIND COUNT_ARGMAX(?n, ?a) AS ?c "
        "BIND SUM_ARGMIN(?a, ?n) AS ?s) .",
        PAYMENTS,
    )
    assert objects(r, ":product") == {":p": f'"45000"{INT}'}
    assert objects(r, ":atMax") == {":p": f'"2"{INT}'}
    assert objects(r, ":atMin") == {":p": f'"1"{INT}'}
    assert objects(r, ":firstOfMax") == {":p": '"al"'}
    assert objects(r, ":lastOfMax") == {":p": '"cy"'}
    assert objects(r, ":countOfMax") == {":p": f'"2"{INT}'}
    assert objects(r, ":amountOfFirst") == {":p": f'"30"{INT}'}  # "al" is the least name


def test_iris_are_ordered_by_their_code_points(run):
    data = "".join(f"<:{n}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:N> .\n" for n in "cab")
    r = run("[?x, :before, ?y] :- [?x, a, :N], [?y, a, :N], FILTER(?x < ?y) .", data)
    assert facts(r) == {(":a", ":before", ":b"), (":a", ":before", ":c"), (":b", ":before", ":c")}


def test_skolem_gives_one_blank_node_per_argument_tuple(run):
    r = run(
        '[?x, :node, ?s] :- [?x, :p, ?y], BIND(SKOLEM("n", ?x) AS ?s) .\n'
        '[?x, :again, ?s] :- [?x, :p, ?y], BIND(SKOLEM("n", ?x) AS ?s) .\n'
        '[?x, :other, ?s] :- [?x, :p, ?y], BIND(SKOLEM("n", ?x, ?y) AS ?s) .',
        '<:a> <:p> "1" .\n<:b> <:p> "1" .\n',
    )
    node, again, other = (objects(r, p) for p in (":node", ":again", ":other"))
    assert node == again  # the same arguments give the same node, in every rule
    assert len(set(node.values())) == 2 and not set(node.values()) & set(other.values())
    assert all(re.fullmatch(r"_:sk[0-9a-f]{32}", n) for n in (*node.values(), *other.values()))


def test_skolem_atom_binds_its_last_argument_as_bind_does(run):
    """RDFox's built-in atom form ``SKOLEM(t1, ..., tn, ?z)``; a constant last argument tests."""
    r = run(
        '[?x, :atom, ?s] :- [?x, :p, ?y], SKOLEM("n", ?x, ?s) .\n'
        '[?x, :bind, ?s] :- [?x, :p, ?y], BIND(SKOLEM("n", ?x) AS ?s) .\n'
        '[?x, :same, true] :- [?x, :p, ?y], [?x, :bind, ?s], SKOLEM("n", ?x, ?t), FILTER(?s = ?t) .',
        '<:a> <:p> "1" .\n<:b> <:p> "2" .\n',
    )
    assert objects(r, ":atom") == objects(r, ":bind") and len(set(objects(r, ":atom").values())) == 2
    assert set(objects(r, ":same")) == {":a", ":b"}


def test_skolem_labels_are_a_function_of_the_argument_strings(run):
    """The label is the same on both executors (and in every run): a hash of the arguments'
    length-prefixed canonical N-Triples strings."""

    def label(*terms: str) -> str:
        text = "".join(f"{len(t)}:{t}" for t in terms)
        return "_:sk" + hashlib.sha256(text.encode()).hexdigest()[:32]

    r = run('[?x, :node, ?s] :- [?x, :p, ?y], BIND(SKOLEM(?x, "tag", ?y, 1.5) AS ?s) .',
            '<:a> <:p> "x\\ny"@en .\n<:b> <:p> <:c> .\n')
    assert objects(r, ":node") == {
        ":a": label("<http://e/a>", '"tag"', '"x\\ny"@en', f'"1.5"{DEC}'),
        ":b": label("<http://e/b>", '"tag"', "<http://e/c>", f'"1.5"{DEC}'),
    }


def test_rows_that_would_be_invalid_ntriples_are_skipped_and_counted(run):
    r = run(
        "[?o, :named, ?s] :- [?s, :name, ?o] .\n"  # a literal as subject: skipped
        "[?n, :of, ?x] :- [?x, :tag, ?t], BIND(IRI(?t) AS ?n) .",  # no BASE: a relative IRI skipped
        '<:a> <:name> "Ann" .\n<:b> <:name> <:bob> .\n<:c> <:tag> "http://x/ok" .\n<:d> <:tag> "rel" .\n',
    )
    assert facts(r) == {(":bob", ":named", ":b"), ("<http://x/ok>", ":of", ":c")}
    assert sorted((rule.split()[0], reason, n) for (rule, reason), n in r.skipped.items()) == [
        ("<test>:1", "a literal or relative IRI as subject", 1), ("<test>:2", "a literal or relative IRI as subject", 1),
    ]


@pytest.mark.parametrize(
    ("rule", "needle"),
    [
        ('[?x, :p, ?y] :- [?y, :q, ?x], BIND(STR(?y) AS ?s), [?s, :r, ?x] .', None),
        ('[?s, :p, ?x] :- [?x, :q, ?y], BIND(STR(?x) AS ?s) .', "?s can only hold a literal value here"),
        ('[?x, ?p, ?y] :- [?x, :q, ?y], BIND(SKOLEM(?x) AS ?p) .', "?p can only hold a blank value"),
        ('[?n, :p, ?x] :- [?x, :q, ?y], BIND(IRI(MD5(STR(?x))) AS ?n) .', "IRI() of a relative string needs a BASE"),
        ('[?x, :p, <relative>] :- [?x, :q, ?y] .', "<relative> cannot be the object"),
    ],
)
def test_heads_that_can_only_write_invalid_ntriples_are_rejected_before_the_run(rule, needle):
    from fincrime.errors import SourceError

    if needle is None:  # a variable bound both ways is checked per row, not rejected
        engine_runner("memory")(rule, "")
        return
    with pytest.raises(SourceError, match=re.escape(needle)) as caught:
        engine_runner("memory")(rule, "")
    assert caught.value.line == 1
