"""Golden results on small hand-made graphs, one language feature at a time, on both executors
(every test takes the ``run`` fixture, parametrized over memory and Spark)."""

from __future__ import annotations

import hashlib

import pytest
from engine_support import ENGINES, engine_runner, facts, objects

XSD = "http://www.w3.org/2001/XMLSchema#"
INT = f"^^<{XSD}integer>"
DEC = f"^^<{XSD}decimal>"


@pytest.fixture(params=ENGINES, scope="module")
def run(request):  # type: ignore[no-untyped-def]
    return engine_runner(request.param)


def test_join_and_multi_atom_head(run):
    r = run(
        "[?x, :grandparent, ?z], [?z, :grandchildOf, ?x] :- [?x, :parent, ?y], [?y, :parent, ?z] .",
        "<:a> <:parent> <:b> .\n<:b> <:parent> <:c> .\n<:b> <:parent> <:d> .\n",
    )
    assert facts(r) == {
        (":a", ":grandparent", ":c"), (":a", ":grandparent", ":d"),
        (":c", ":grandchildOf", ":a"), (":d", ":grandchildOf", ":a"),
    }


def test_recursion_transitive_closure_on_a_cycle(run):
    r = run(
        "[?x, :reaches, ?y] :- [?x, :pays, ?y] .\n"
        "[?x, :reaches, ?z] :- [?x, :reaches, ?y], [?y, :pays, ?z] .",
        "<:a> <:pays> <:b> .\n<:b> <:pays> <:c> .\n<:c> <:pays> <:a> .\n<:d> <:pays> <:a> .\n",
    )
    reach = facts(r, ":reaches")
    assert len(reach) == 9 + 3  # a, b, c reach each other (incl. themselves); d reaches a, b, c
    assert (":a", ":reaches", ":a") in reach
    assert (":d", ":reaches", ":d") not in reach


def test_shorthand_atoms_class_and_property(run):
    r = run(
        ":Hub(?x) :- :pays(?y, ?x), :Party(?x) .",
        "<:a> <:pays> <:b> .\n<:b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n",
    )
    assert facts(r) == {(":b", "a", ":Hub")}


def test_tuple_tables_nary(run):
    r = run(
        "tt:edge(?x, ?y, ?a) :- [?t, :from, ?x], [?t, :to, ?y], [?t, :amount, ?a] .\n"
        "[?x, :sends, ?y] :- tt:edge(?x, ?y, ?a), FILTER(?a > 10) .\n",
        '<:t1> <:from> <:a> .\n<:t1> <:to> <:b> .\n<:t1> <:amount> "20"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        '<:t2> <:from> <:b> .\n<:t2> <:to> <:c> .\n<:t2> <:amount> "5"^^<http://www.w3.org/2001/XMLSchema#integer> .\n',
    )
    assert facts(r) == {(":a", ":sends", ":b")}
    rows = r.tuples("http://oxfordsemantic.tech/transactions/tupletables#edge")
    assert len(rows) == 2


def test_facts_in_rule_files_and_constants_in_heads(run):
    r = run("[:a, :p, 1] .\n[?x, :q, :k] :- [?x, :p, ?v] .")
    assert facts(r) == {(":a", ":p", f'"1"{INT}'), (":a", ":q", ":k")}


def test_filter_numeric_comparison_with_type_promotion(run):
    r = run(
        "[?x, a, :Big] :- [?x, :amount, ?a], FILTER(?a >= 100.5) .",
        f'<:a> <:amount> "100"{INT} .\n<:b> <:amount> "100.5"{DEC} .\n'
        f'<:c> <:amount> "1.5E3"^^<{XSD}double> .\n<:d> <:amount> "abc" .\n',
    )
    assert {s for s, _, _ in facts(r)} == {":b", ":c"}


def test_filter_datetime_and_string_comparisons(run):
    dt = f"^^<{XSD}dateTime>"
    r = run(
        "[?x, a, :Late] :- [?x, :at, ?d], FILTER(?d > \"2024-01-01T12:00:00\"^^xsd:dateTime) .\n"
        "[?x, a, :AfterM] :- [?x, :name, ?n], FILTER(?n > \"M\") .",
        f'<:a> <:at> "2024-01-01T12:00:01"{dt} .\n<:b> <:at> "2024-01-01T11:00:00"{dt} .\n'
        f'<:c> <:at> "2024-01-01T13:30:00+02:00"{dt} .\n<:d> <:name> "Zoe" .\n<:e> <:name> "Adam" .\n',
    )
    late = {s for s, _, o in facts(r) if o.endswith("Late")}
    assert late == {":a"}  # 13:30+02:00 is 11:30 UTC
    assert {s for s, _, o in facts(r) if o.endswith("AfterM")} == {":d"}


def test_bind_arithmetic_and_canonical_literals(run):
    r = run(
        "[?x, :next, ?n], [?x, :half, ?h], [?x, :scaled, ?d] :- [?x, :len, ?l], "
        "BIND(?l + 1 AS ?n), BIND(?l / 2 AS ?h), BIND(?l * 1.5e0 AS ?d) .",
        f'<:a> <:len> "3"{INT} .\n',
    )
    assert objects(r, ":next") == {":a": f'"4"{INT}'}
    assert objects(r, ":half") == {":a": f'"1.5"{DEC}'}
    assert objects(r, ":scaled") == {":a": f'"4.5E0"^^<{XSD}double>'}


def test_bind_of_a_constant_binds_every_row_and_routes_a_variable_predicate(run):
    r = run(
        "[?y, ?rel, ?x] :- [?x, :pays, ?y], BIND(:paidBy AS ?rel) .",
        "<:a> <:pays> <:b> .\n<:b> <:pays> <:c> .\n<:c> <:pays> <:d> .\n",
    )
    assert facts(r) == {(":b", ":paidBy", ":a"), (":c", ":paidBy", ":b"), (":d", ":paidBy", ":c")}


def test_bind_error_means_no_binding(run):
    r = run(
        "[?x, :plus, ?n] :- [?x, :v, ?v], BIND(?v + 1 AS ?n) .",
        f'<:a> <:v> "1"{INT} .\n<:b> <:v> "one" .\n<:c> <:v> <:iri> .\n',
    )
    assert objects(r, ":plus") == {":a": f'"2"{INT}'}


def test_if_and_logical_operators_with_errors(run):
    r = run(
        "[?x, :min, ?m] :- [?x, :a, ?a], [?x, :b, ?b], BIND(IF(?a < ?b, ?a, ?b) AS ?m) .\n"
        "[?x, a, :Or] :- [?x, :a, ?a], FILTER(?a > 5 || ?a = \"text\") .\n"
        "[?x, a, :And] :- [?x, :a, ?a], FILTER(!(?a > 5) && ?a < 100) .",
        f'<:p> <:a> "7"{INT} .\n<:p> <:b> "3"{INT} .\n<:q> <:a> "text" .\n<:q> <:b> "1"{INT} .\n'
        f'<:r> <:a> "2"{INT} .\n',
    )
    assert objects(r, ":min") == {":p": f'"3"{INT}'}  # ?a < ?b errs for :q: no binding
    classes = facts(r, "a")
    assert {s for s, _, o in classes if o == ":Or"} == {":p", ":q"}  # error || true = true
    assert {s for s, _, o in classes if o == ":And"} == {":r"}


def test_iri_md5_concat_resolves_against_base(run):
    r = run(
        "[?c, :of, ?t] :- [?t, a, :Tx], BIND(IRI(MD5(CONCAT(\"Chain\", STR(?t)))) AS ?c) .",
        "<:t1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Tx> .\n",
        base="http://base.example/x/",
    )
    digest = hashlib.md5(b"Chainhttp://e/t1").hexdigest()
    assert facts(r) == {(f"<http://base.example/x/{digest}>", ":of", ":t1")}


FUNCTION_CASES = [
    ('SHA1("abc")', '"' + hashlib.sha1(b"abc").hexdigest() + '"'),
    ('SHA256("abc")', '"' + hashlib.sha256(b"abc").hexdigest() + '"'),
    ('STRLEN("héllo")', f'"5"{INT}'),
    ('SUBSTR("fincrime", 4, 5)', '"crime"'),
    ('SUBSTR("fincrime", 4)', '"crime"'),
    ('UCASE("ab")', '"AB"'),
    ('CONCAT("a", "b", "c")', '"abc"'),
    ("DATATYPE(1.5)", f"<{XSD}decimal>"),
    ('xsd:integer("42")', f'"42"{INT}'),
    ("xsd:decimal(2)", f'"2.0"{DEC}'),
    ('xsd:string(<http://x/y>)', '"http://x/y"'),
    ("xsd:double(1)", f'"1.0E0"^^<{XSD}double>'),
    ('STRSTARTS("fincrime", "fin")', f'"true"^^<{XSD}boolean>'),
    ('IF(3 IN (1, 2, 3), "yes", "no")', '"yes"'),
    ("-(2 - 5)", f'"3"{INT}'),
    ('YEAR("2024-03-05T10:00:00"^^xsd:dateTime)', f'"2024"{INT}'),
]


MATH = "PREFIX math: <http://www.w3.org/2005/xpath-functions/math#>\n"


def test_math_log_extension_function(run):
    # math:log (XPath math namespace): natural log as xsd:double; an error (no binding) for
    # numbers <= 0 and for non-numbers; FLOOR of a log ratio is an amount band
    r = run(
        MATH + "[?x, :ln, ?l] :- [?x, :v, ?v], BIND(math:log(?v) AS ?l) .\n"
        "[?x, :band, ?b] :- [?x, :v, ?v], BIND(FLOOR(math:log(?v) / math:log(3) + 1 / 6) AS ?b) .",
        f'<:one> <:v> "1"{INT} .\n<:e> <:v> "2.718281828459045"^^<{XSD}double> .\n'
        f'<:b> <:v> "81.00"{DEC} .\n<:zero> <:v> "0"{INT} .\n<:neg> <:v> "-5"{INT} .\n<:s> <:v> "ten" .\n',
    )
    ln = objects(r, ":ln")
    assert set(ln) == {":one", ":e", ":b"}
    assert ln[":one"] == f'"0.0E0"^^<{XSD}double>'
    assert ln[":e"] == f'"1.0E0"^^<{XSD}double>'
    assert objects(r, ":band")[":b"] == f'"4.0E0"^^<{XSD}double>'


@pytest.fixture(scope="module")
def function_results(run):  # type: ignore[no-untyped-def]
    """Every case of :data:`FUNCTION_CASES` bound in one program: one run per executor."""
    binds = ", ".join(f"BIND({expr} AS ?v{i})" for i, (expr, _) in enumerate(FUNCTION_CASES))
    heads = ", ".join(f"[:r, :v{i}, ?v{i}]" for i in range(len(FUNCTION_CASES)))
    return run(f"{heads} :- [:x, :p, :y], {binds} .", "<:x> <:p> <:y> .\n")


@pytest.mark.parametrize(("index", "case"), list(enumerate(FUNCTION_CASES)), ids=[c[0] for c in FUNCTION_CASES])
def test_functions(function_results, index, case):
    assert objects(function_results, f":v{index}") == {":r": case[1]}


def test_negation_stratified(run):
    r = run(
        "[?x, a, :Unpaid] :- [?x, a, :Party], NOT EXISTS ?t IN ([?x, :receives, ?t]) .\n"
        "[?x, :receives, ?t] :- [?t, :to, ?x] .",
        "<:a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n"
        "<:b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n<:t1> <:to> <:a> .\n",
    )
    assert {s for s, _, o in facts(r) if o == ":Unpaid"} == {":b"}


def test_negation_of_a_ground_conjunction_and_plain_not(run):
    r = run(
        "[?x, a, :Quiet] :- [?x, a, :Party], NOT [?x, :flag, :on] .\n"
        "[:sys, a, :Empty] :- [:sys, a, :System], NOT [:alarm, :state, :raised] .",
        "<:a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n"
        "<:b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n<:b> <:flag> <:on> .\n"
        "<:sys> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:System> .\n",
    )
    assert {s for s, _, o in facts(r) if o == ":Quiet"} == {":a"}
    assert (":sys", "a", ":Empty") in facts(r)


def test_not_exists_with_local_variable(run):
    r = run(
        "[?x, a, :Isolated] :- [?x, a, :Party], NOT EXISTS ?y IN ([?x, :pays, ?y], [?y, a, :Party]) .",
        "<:a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n"
        "<:b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:Party> .\n"
        "<:a> <:pays> <:b> .\n<:b> <:pays> <:z> .\n",
    )
    assert {s for s, _, o in facts(r) if o == ":Isolated"} == {":b"}


def test_aggregates_count_sum_min_max_avg(run):
    data = "".join(
        f'<:t{i}> <:to> <:{h}> .\n<:t{i}> <:amount> "{a}"{DEC} .\n'
        for i, (h, a) in enumerate([("h", 10), ("h", 30), ("h", 20), ("k", 5)])
    )
    r = run(
        "[?h, :n, ?n], [?h, :sum, ?s], [?h, :min, ?m], [?h, :max, ?x], [?h, :avg, ?v] :- "
        "AGGREGATE([?t, :to, ?h], [?t, :amount, ?a] ON ?h "
        "BIND COUNT(?t) AS ?n BIND SUM(?a) AS ?s BIND MIN(?a) AS ?m BIND MAX(?a) AS ?x BIND AVG(?a) AS ?v) .",
        data,
    )
    assert objects(r, ":n") == {":h": f'"3"{INT}', ":k": f'"1"{INT}'}
    assert objects(r, ":sum")[":h"] == f'"60.0"{DEC}'
    assert objects(r, ":min")[":h"] == f'"10"{DEC}'  # MIN keeps the input term as it is
    assert objects(r, ":max")[":h"] == f'"30"{DEC}'
    assert objects(r, ":avg")[":h"] == f'"20.0"{DEC}'


def test_sum_of_decimals_is_exact(run):
    # summed as doubles, these cents give 85066.01999999999; decimals are summed exactly
    amounts = ["17898.62", "16135.98", "17310.69", "16998.09", "16722.64"]
    data = "".join(f'<:t{i}> <:to> <:h> .\n<:t{i}> <:amount> "{a}"{DEC} .\n' for i, a in enumerate(amounts))
    r = run("[?h, :sum, ?s] :- AGGREGATE([?t, :to, ?h], [?t, :amount, ?a] ON ?h BIND SUM(?a) AS ?s) .", data)
    assert objects(r, ":sum")[":h"] == f'"85066.02"{DEC}'


def test_aggregate_filter_on_result_and_count_distinct(run):
    r = run(
        "[?h, a, :FanIn] :- AGGREGATE([?t, :to, ?h], [?t, :from, ?s] ON ?h BIND COUNT(DISTINCT ?s) AS ?n), FILTER(?n >= 2) .",
        "<:t1> <:to> <:h> .\n<:t1> <:from> <:a> .\n<:t2> <:to> <:h> .\n<:t2> <:from> <:a> .\n"
        "<:t3> <:to> <:h> .\n<:t3> <:from> <:b> .\n<:t4> <:to> <:k> .\n<:t4> <:from> <:a> .\n"
        "<:t5> <:to> <:k> .\n<:t5> <:from> <:a> .\n",
    )
    assert {s for s, _, o in facts(r)} == {":h"}


def test_parameters_replace_file_defaults(run):
    rules = (
        "PREFIX param: <https://w3id.org/fincrime/param#>\n"
        "[param:job, param:threshold, 10] .\n"
        "[?x, a, :Big] :- [?x, :amount, ?a], [param:job, param:threshold, ?t], FILTER(?a > ?t) ."
    )
    data = f'<:a> <:amount> "50"{INT} .\n<:b> <:amount> "5"{INT} .\n'
    assert {s for s, _, o in facts(run(rules, data)) if o == ":Big"} == {":a"}
    assert {s for s, _, o in facts(run(rules, data, params={"threshold": 100})) if o == ":Big"} == set()
    assert {s for s, _, o in facts(run(rules, data, params={"threshold": "1"})) if o == ":Big"} == {":a", ":b"}


def test_variable_predicate_reads_every_relation(run):
    r = run(
        "[?s, :touches, ?o] :- [?s, ?p, ?o], FILTER(ISIRI(?o)) .",
        '<:a> <:p> <:b> .\n<:a> <:q> "lit" .\n<:c> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <:K> .\n',
    )
    assert facts(r) == {(":a", ":touches", ":b"), (":c", ":touches", ":K")}


def test_derived_only_excludes_input_and_duplicates(run):
    r = run("[?x, :p, ?y] :- [?x, :p, ?y] .\n[?x, :q, ?y] :- [?x, :p, ?y] .", "<:a> <:p> <:b> .\n")
    assert facts(r) == {(":a", ":q", ":b")}
    assert r.count(derived_only=False) == 2


def test_explain_follows_tuple_tables_and_aggregates_down_to_input_facts():
    from engine_support import PREFIXES, RDF_TYPE

    from fincrime.engine import materialize_frame
    from fincrime.engine.explain import explain
    from fincrime.rdf import parse_document
    from fincrime.rules import parse_program

    rules = ("tt:edge(?t, ?x, ?y) :- [?t, :from, ?x], [?t, :to, ?y] .\n"
             "tt:degree(?x, ?n, ?m) :- AGGREGATE(tt:edge(?t, ?x, ?y) ON ?x BIND COUNT(?y) AS ?n BIND COUNT(DISTINCT ?y) AS ?m) .\n"
             "[?x, a, :Hub] :- tt:degree(?x, ?n, ?m), FILTER(?m >= 2) .")
    program = parse_program(rules, "<test>", prefixes={**PREFIXES, "tt": "http://t/"})
    data = "".join(f"<:t{i}> <:from> <:{x}> .\n<:t{i}> <:to> <:{y}> .\n" for i, (x, y) in enumerate(["ab", "ac", "da"]))
    data = data.replace("<:", "<http://e/")
    result = materialize_frame(program, parse_document(data))
    tree = explain(result, program, ("<http://e/a>", f"<{RDF_TYPE}>", "<http://e/Hub>"))
    (degree,) = tree.children
    assert degree.table == "http://t/degree" and degree.fact == ("<http://e/a>", f'"2"{INT}', f'"2"{INT}')
    assert degree.note == "aggregating 2 answers"
    edges = sorted(c.fact for c in degree.children)
    assert edges == [("<http://e/t0>", "<http://e/a>", "<http://e/b>"), ("<http://e/t1>", "<http://e/a>", "<http://e/c>")]
    assert all(len(c.children) == 2 and all(g.input for g in c.children) for c in degree.children)
    assert degree.text().startswith("http://t/degree(<http://e/a>, ")
