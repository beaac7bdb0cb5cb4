"""The RDFox dialect as RDFox users write it (current and older syntax), and hostile rule text:
every bad input is one SourceError with file, line, column and a caret, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fincrime.errors import FincrimeError, SourceError
from fincrime.rules import parse_program
from fincrime.rules.ast import (
    AggBind,
    Aggregate,
    Atom,
    Bind,
    Const,
    ECall,
    EConst,
    EVar,
    Negation,
    Var,
)
from fincrime.rules.builtins import AGGREGATES, FUNCTIONS
from fincrime.vocab import OWL, RDF_TYPE, RDFOX, SH, SWRL, SWRLB, TT

P = {"": "http://e/"}
TYPE = Const(f"<{RDF_TYPE}>")


def one_rule(text: str):  # type: ignore[no-untyped-def]
    (rule,) = parse_program(text, "r.dlog", prefixes=P).rules
    return rule


def error(text: str, prefixes: dict[str, str] | None = None) -> SourceError:
    with pytest.raises(SourceError) as info:
        parse_program(text, "bad.dlog", prefixes=P if prefixes is None else prefixes)
    err = info.value
    assert err.source == "bad.dlog" and err.column is not None, err.render()
    lines = err.render().splitlines()
    assert lines[0].startswith(f"bad.dlog:{err.line}:{err.column}: ") and lines[-1].strip() == "^"
    return err


# --- atoms -------------------------------------------------------------------------------------


def test_square_bracket_class_and_property_atoms_mean_triples():
    rule = one_rule(":Person[?x] :- :teacherOf[?x, ?y] .")
    assert rule.head[0] == Atom((Var("x"), TYPE, Const("<http://e/Person>")))
    assert rule.body[0] == Atom((Var("x"), Const("<http://e/teacherOf>"), Var("y")))


def test_parenthesized_shorthands_keep_their_older_meaning_where_unambiguous():
    rule = one_rule(":Person(?x) :- :teacherOf(?x, ?y), tt:window(?x, ?y), employee(?x, ?n), :t3(?x, ?y, ?n) .")
    assert rule.head[0] == Atom((Var("x"), TYPE, Const("<http://e/Person>")))
    atoms = rule.body
    assert atoms[0] == Atom((Var("x"), Const("<http://e/teacherOf>"), Var("y")))
    assert atoms[1].table == TT + "window" and len(atoms[1].args) == 2  # tt: names a tuple table
    assert atoms[2].table == "employee"  # a bare name is always a tuple table
    assert atoms[3].table == "http://e/t3" and len(atoms[3].args) == 3  # three arguments: a table


def test_named_graph_atoms_in_heads_and_bodies():
    rule = one_rule("[?x, a, :T] :G, :C[?x] ?g :- [?x, :p, ?y] ?g, :q[?y, ?x] <http://g/h> .")
    assert rule.head[0].graph == Const("<http://e/G>")
    assert rule.head[1].graph == Var("g") and rule.head[1].args[1] == TYPE
    assert rule.body[0].graph == Var("g") and "g" in rule.body[0].variables()
    assert rule.body[1].graph == Const("<http://g/h>")
    assert str(rule.body[0]) == "[?x, <http://e/p>, ?y] ?g"


def test_rdfox_dataset_tables_are_triple_atoms():
    rule = one_rule("rdfox:Quads(?x, :p, ?y, :g) :- rdfox:DefaultTriples(?x, :q, ?y), DefaultTriples(?y, :r, ?x) .")
    assert rule.head[0] == Atom((Var("x"), Const("<http://e/p>"), Var("y")), graph=Const("<http://e/g>"))
    assert rule.body[0] == Atom((Var("x"), Const("<http://e/q>"), Var("y")))
    assert rule.body[1].table is None


def test_negation_spellings():
    forms = [
        ":A[?x] :- :B[?x], NOT EXISTS ?y IN [?y, :p, ?x] .",
        ":A[?x] :- :B[?x], NOT EXIST ?y IN ([?y, :p, ?x]) .",
        ":A[?x] :- :B[?x], NOT EXISTS ?y IN :p[?y, ?x] .",
    ]
    for text in forms:
        neg = one_rule(text).body[1]
        assert isinstance(neg, Negation) and neg.exists == ("y",)
        assert neg.body == (Atom((Var("y"), Const("<http://e/p>"), Var("x"))),)
    neg = one_rule(":A[?x] :- :B[?x], NOT EXISTS ?y ?z IN ([?y, :p, ?x], [?z, :q, ?y]) .").body[1]
    assert neg.exists == ("y", "z")


def test_rdfox_default_prefixes():
    rule = one_rule("[?x, owl:sameAs, ?y] :- [?x, rdfox:p, ?y], [?x, sh:q, swrl:a], [?x, swrlb:r, ?y] .")
    assert rule.head[0].args[1] == Const(f"<{OWL}sameAs>")
    assert [a.args[1].term for a in rule.body] == [f"<{RDFOX}p>", f"<{SH}q>", f"<{SWRLB}r>"]
    assert rule.body[1].args[2] == Const(f"<{SWRL}a>")


def test_nullary_atoms_and_mixed_arities_are_errors():
    assert "no arguments" in error("tt:ok() .").message
    err = error("tt:fib(1, 2, 3) .\ntt:fib(1, 2) .")
    assert (err.line, err.column) == (2, 1) and "has 2 arguments here but 3 at bad.dlog:1:1" in err.message
    err = error(":fib(1, 2, 3) .\n[?x, a, :B] :- :fib(?x, ?y) .")
    assert (err.line, err.column) == (2, 16) and "cannot be read as a class or property" in err.message
    assert "class atom" in error(":C[?x, ?y, ?z] .").message
    assert "triple atom" in error("[?x, :p] :- [?x, :q, ?y] .").message


def test_arity_is_checked_across_files(tmp_path):
    from fincrime.rules import load_program

    (tmp_path / "a.dlog").write_text("tt:t(1, 2, 3) .\n")
    (tmp_path / "b.dlog").write_text("[?x, a, :C] :- tt:t(?x, ?y) .\n")
    with pytest.raises(SourceError) as info:
        load_program([tmp_path / "a.dlog", tmp_path / "b.dlog"])
    assert info.value.source.endswith("b.dlog") and "a.dlog:1:1" in info.value.message


# --- functions and aggregates ---------------------------------------------------------------------


def test_skolem_and_new_aggregates_parse_into_documented_shapes():
    rule = one_rule('[?x, :p, ?z] :- [?x, :q, ?y], BIND(SKOLEM("c", ?x, ?y) AS ?z) .')
    bind = rule.body[1]
    assert isinstance(bind, Bind) and bind.var == "z"
    assert bind.expr == ECall("SKOLEM", (EConst('"c"'), EVar("x"), EVar("y")))
    rule = one_rule(
        "[?x, :p, ?m] :- AGGREGATE([?x, :q, ?y], [?y, :name, ?n] ON ?x BIND MIN_ARGMAX(?n, ?y) AS ?m "
        "BIND COUNT_MIN(?y) AS ?c BIND COUNT_MAX(?y) AS ?d BIND MUL(?y) AS ?e) ."
    )
    agg = rule.body[0]
    assert isinstance(agg, Aggregate)
    names = [(b.func, b.base, b.selector, len(b.args)) for b in agg.binds]
    assert names == [("MIN_ARGMAX", "MIN", "ARGMAX", 2), ("COUNT_MIN", "COUNT_MIN", "", 1),
                     ("COUNT_MAX", "COUNT_MAX", "", 1), ("MUL", "MUL", "", 1)]
    assert AggBind("SAMPLE_ARGMIN", (), "v").base == "SAMPLE"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("AGGREGATE([?x, :q, ?y] ON ?x BIND MIN_ARGMAX(?y) AS ?m)", "MIN_ARGMAX takes 2 arguments, got 1"),
        ("AGGREGATE([?x, :q, ?y] ON ?x BIND SUM(?y, ?y) AS ?m)", "SUM takes 1 argument, got 2"),
        ("AGGREGATE([?x, :q, ?y] ON ?x BIND FOO(?y) AS ?m)", "unknown aggregate function FOO"),
        ("AGGREGATE([?x, :q, ?y] ON ?x BIND MAX(*) AS ?m)", "only COUNT(*)"),
        ("AGGREGATE([?x, :q, ?y] ON ?x BIND MIN_ARGMIN(?y, ?k) AS ?m)", "unsafe AGGREGATE: ?k"),
        ("AGGREGATE([?x, :q, ?y] ON ?x BIND MIN(?y) AS ?x)", "grouping variable"),
        ("[?x, :q, ?y], BIND(SKOLEM() AS ?m)", "SKOLEM takes at least 1 argument, got 0"),
        ("[?x, :q, ?y], FILTER(FOO(?y))", "unknown function FOO"),
        ("[?x, :q, ?y], FILTER(STRLEN(?y, 2))", "STRLEN takes 1 argument, got 2"),
        ("[?x, :q, ?y], FILTER(xsd:date(?y))", "unknown function xsd:date"),
        ("[?x, :q, ?y], FILTER(xsd:integer(?y, 2) > 1)", "takes one argument"),
        ('[?x, :q, ?y], FILTER(REGEX(?y, "(ab"))', "bad REGEX pattern '(ab': unclosed group"),
        ('[?x, :q, ?y], FILTER(REGEX(?y, "ab", "z"))', "unknown REGEX flag 'z'"),
        ("[?x, :q, ?y], FILTER(?y < 3 < 4)", "comparisons do not chain"),
    ],
)
def test_function_and_aggregate_errors_point_at_the_call(body, needle):
    head = "[?x, :p, ?m]" if "?m" in body else "[?x, :p, ?y]"
    err = error(f"{head} :-\n    {body} .")
    assert err.line == 2 and needle in err.message, err.render()


def test_every_builtin_has_an_implementation_in_the_engines():
    from fincrime.engine.sparql.functions import SUPPORTED_FUNCTIONS
    from fincrime.rules.builtins import CASTS

    assert set(FUNCTIONS) <= SUPPORTED_FUNCTIONS
    assert set(FUNCTIONS) | CASTS >= SUPPORTED_FUNCTIONS
    assert {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT", "MUL", "COUNT_MIN"} <= set(AGGREGATES)


# --- hostile text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "needle"),
    [
        ("[?x, :p, ?y] :- [?x, :q, ?y], FILTER(?y > ²) .", 43, "unexpected character '²'"),
        ("[?x, :p, ?y] :- [?x, :q, ?y], FILTER(?y > ٣) .", 43, "unexpected character"),
        ('[:a, :p, "\\U00110000"] .', 11, "\\U00110000 is not a Unicode character"),
        ('[:a, :p, "\\UFEEEEEEE"] .', 11, "\\UFEEEEEEE is not a Unicode character"),
        ('[:a, :p, "\\uD800"] .', 11, "\\uD800 is not a Unicode character"),
    ],
)
def test_bad_characters_and_escapes(text, column, needle):
    err = error(text)
    assert err.column == column and needle in err.message, err.render()


@pytest.mark.parametrize("depth", [150, 10_000])
def test_deep_nesting_is_a_clean_error(depth):
    parens = "(" * depth + "?y" + ")" * depth
    err = error(f"[?x, :p, ?y] :- [?x, :q, ?y], FILTER({parens} > 1) .")
    assert "nested deeper than" in err.message
    calls = "STR(" * depth + "?y" + ")" * depth
    assert "nested deeper than" in error(f"[?x, :p, ?y] :- [?x, :q, ?y], FILTER({calls} > 1) .").message
    nots = "!" * depth + "?y"
    assert "nested deeper than" in error(f"[?x, :p, ?y] :- [?x, :q, ?y], FILTER({nots}) .").message
    chain = " + ".join(["?y"] * depth)
    assert "nested deeper than" in error(f"[?x, :p, ?y] :- [?x, :q, ?y], FILTER({chain} > 1) .").message
    aggs = "AGGREGATE(" * depth
    assert "nested deeper than" in error(f"[?x, :p, ?y] :- {aggs}[?x, :q, ?y] .").message
    err = error("[?x, :p, ?y] :- [?x, :q, ?y], FILTER(" + "(" * depth)
    assert err.line == 1


def test_moderate_nesting_still_parses():
    parens = "(" * 40 + "?y" + ")" * 40
    chain = " + ".join(["?y"] * 90)
    rule = one_rule(f"[?x, :p, ?z] :- [?x, :q, ?y], FILTER({parens} > 1), BIND({chain} AS ?z) .")
    assert len(rule.body) == 3


def test_a_huge_line_renders_a_window_around_the_column():
    err = error("[?x, :p, ?y] :- [?x, :q, ?y], FILTER(" + "+".join(["?y"] * 5000) + ") .")
    shown = err.render().splitlines()
    assert len(shown[1]) < 120 and shown[2].index("^") < 120


# --- fuzzing: any text is a program or a clean error --------------------------------------------

_pieces = st.sampled_from([
    "[", "]", "(", ")", ",", ".", ":-", "?x", "?y", "$z", ":p", ":C", "a", "tt:t", "emp", "<http://e/i>",
    "<rel>", '"s"', "'q'", '"""l"""', "@en", "^^", "xsd:integer", "1", "-2.5", "3e4", "true", "FILTER",
    "BIND", "AS", "NOT", "EXISTS", "EXIST", "IN", "AGGREGATE", "ON", "MIN", "COUNT", "MIN_ARGMAX", "SKOLEM",
    "REGEX", "STR", "IF", "+", "-", "*", "/", "<", "<=", "=", "!=", "&&", "||", "!", "PREFIX", "BASE",
    "@prefix", "ex:", "#c\n", "\n", " ", "²", "\\U00110000", '"\\uD800"', "_:b", ";", "{", "DISTINCT",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_pieces, max_size=40).map(" ".join) | st.text(max_size=60))
def test_fuzzed_rule_text_parses_or_fails_cleanly(text):
    try:
        parse_program(text, "fuzz.dlog", prefixes=P)
    except FincrimeError as exc:
        assert exc.one_line().startswith("fuzz.dlog:") or "fuzz.dlog" in exc.one_line()
        if isinstance(exc, SourceError):
            exc.render()


_rule_like = st.builds(
    lambda head, body, extra: f"{head} :- {body}{extra} .",
    st.sampled_from(["[?x, :p, ?y]", ":C[?x]", "tt:t(?x, ?y)", "[?x, a, :T] :G", "emp(?x)"]),
    st.sampled_from(["[?x, :q, ?y]", ":q[?x, ?y]", "[?x, :q, ?y] ?g", ":q(?x, ?y)", "tt:t(?x, ?y)"]),
    st.lists(st.sampled_from([
        ", FILTER(?y > 1)", ", BIND(?y + 1 AS ?z)", ", NOT [?y, :r, ?x]", ", NOT EXISTS ?w IN [?w, :r, ?x]",
        ", AGGREGATE([?x, :r, ?v] ON ?x BIND MIN_ARGMAX(?v, ?v) AS ?m)", ", FILTER(REGEX(STR(?y), \"^a\"))",
        ", BIND(SKOLEM(?x, ?y) AS ?s)", ", FILTER(?y IN (1, 2))",
    ]), max_size=3).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(_rule_like)
def test_fuzzed_rules_parse_or_fail_cleanly(text):
    try:
        program = parse_program(text, "fuzz.dlog", prefixes=P)
    except SourceError as exc:
        assert exc.source == "fuzz.dlog"
        return
    assert len(program.rules) == 1


def test_positions_after_a_multi_line_string_are_exact():
    err = error('[:a, :p, """one\ntwo\nthree"""],\n  [:a, :q, ?nope] .')
    assert (err.line, err.column) == (4, 3) and "unsafe fact: ?nope" in err.message
