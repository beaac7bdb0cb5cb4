"""Parsing the RDFox dialect: every construct, and every error with file, line and column."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fincrime.errors import SourceError
from fincrime.rules import build_plan, load_program, parse_program
from fincrime.rules.ast import Aggregate, Bind, Const, Filter, Negation, Var

P = {"": "http://e/"}


def test_prefix_forms_base_comments_and_relative_iris():
    prog = parse_program(
        "@prefix ex: <http://ex.org/> .\nPREFIX q: <http://q.org/>\nBASE <http://b.org/dir/>\n"
        "# a comment <not an IRI>\n[?x, a, ex:C] :- [?x, q:p, <rel>] .  # trailing comment\n",
        prefixes=P,
    )
    (rule,) = prog.rules
    assert rule.head[0].args[2] == Const("<http://ex.org/C>")
    assert rule.body[0].args[2] == Const("<http://b.org/dir/rel>")
    assert rule.base == "http://b.org/dir/"


def test_literals_numbers_booleans_and_lang_tags():
    prog = parse_program(
        '[:a, :p, "x"@EN], [:a, :p, "1"^^xsd:integer], [:a, :p, 2.5], [:a, :p, -3], [:a, :p, 1e3],'
        ' [:a, :p, true], [:a, :p, """long\nstring"""] .',
        prefixes=P,
    )
    objs = [h.args[2].term for h in prog.rules[0].head]
    assert objs[0] == '"x"@en'
    assert objs[1] == '"1"^^<http://www.w3.org/2001/XMLSchema#integer>'
    assert objs[2].endswith("#decimal>") and objs[3] == '"-3"^^<http://www.w3.org/2001/XMLSchema#integer>'
    assert objs[4].endswith("#double>") and objs[5].endswith("#boolean>")
    assert objs[6] == '"long\\nstring"'


def test_body_constructs():
    prog = parse_program(
        "[?x, :r, ?n] :- [?x, :p, ?y], FILTER(?y > 1 && !(?y = 5)), BIND(?y * 2 AS ?z), "
        "NOT EXISTS ?w IN ([?x, :q, ?w], FILTER(?w < ?z)), "
        "AGGREGATE([?x, :p, ?v] ON ?x BIND COUNT(DISTINCT ?v) AS ?n BIND MAX(?v) AS ?m) .",
        prefixes=P,
    )
    kinds = [type(i) for i in prog.rules[0].body]
    assert kinds[1:] == [Filter, Bind, Negation, Aggregate]
    agg = prog.rules[0].body[4]
    assert agg.group == ("x",) and [b.func for b in agg.binds] == ["COUNT", "MAX"] and agg.binds[0].distinct


def test_seed_rule_files_parse_unmodified(seed_dir):
    for path in sorted((seed_dir / "rules").glob("*.dlog")):
        prog = load_program([path])
        assert len(prog.rules) >= 4
        build_plan(prog)


@pytest.mark.parametrize(
    ("text", "line", "column", "needle"),
    [
        ("[?x, :p, ?y] :- [?x, :q ?y] .", 1, 25, "expected ','"),
        ("[?x, :p, ?y] :-\n  [?x, :q, ?y],\n  FILTER(?y >) .", 3, 14, "expected a variable or a constant"),
        ("[?x, :p, ?y] :- [?x, nope:q, ?y] .", 1, 22, "undeclared prefix 'nope:'"),
        ('[?x, :p, "abc] :- [?x, :q, ?y] .', 1, 10, "unterminated string"),
        ("[?x, :p, ?y] :- [?x, :q, ?y]", 1, 29, "expected ',' or '.'"),
        ("[?x, :p, ?y] :- [?x, :q, ?y], BIND(?y + 1 ?z) .", 1, 43, "expected AS"),
        ("[?x, :p, ?z] :- [?x, :q, ?y] .", 1, 1, "unsafe rule head: ?z"),
        ("[?x, :p, ?y] :- [?x, :q, ?y], FILTER(?w > 1) .", 1, 31, "unsafe FILTER: ?w"),
        ("[?x, :p, ?y] :- [?x, :q, ?y], BIND(?w + 1 AS ?v) .", 1, 31, "unsafe BIND: ?w"),
        ("[?x, :p, ?y] :- [?x, :q, ?y], NOT [?y, :r, ?t] .", 1, 31, "unsafe NOT: ?t"),
        ("[?x, :p, ?y] :- [?x, :q, ?y], @ .", 1, 31, "unexpected character '@'"),
    ],
)
def test_errors_name_file_line_and_column(text, line, column, needle):
    with pytest.raises(SourceError) as info:
        parse_program(text, "bad.dlog", prefixes=P)
    err = info.value
    assert (err.source, err.line, err.column) == ("bad.dlog", line, column), err.render()
    assert needle in err.message
    rendered = err.render()
    assert rendered.startswith(f"bad.dlog:{line}:{column}: ")
    assert rendered.splitlines()[-1].index("^") == 4 + column - 1


def test_unstratifiable_program_names_the_predicates():
    prog = parse_program(
        "[?x, a, :Win] :- [?x, :move, ?y], NOT [?y, a, :Win] .", "game.dlog", prefixes=P
    )
    with pytest.raises(SourceError) as info:
        build_plan(prog)
    assert "cannot be stratified" in info.value.message
    assert "[?, a, <http://e/Win>]" in info.value.message
    assert info.value.source == "game.dlog"


def test_aggregate_on_a_recursive_cycle_is_rejected():
    prog = parse_program(
        "[?x, :n, ?c] :- AGGREGATE([?x, :n, ?y] ON ?x BIND COUNT(?y) AS ?c) .", prefixes=P
    )
    with pytest.raises(SourceError, match="cannot be stratified"):
        build_plan(prog)


def test_missing_rule_file_and_not_utf8(tmp_path):
    from fincrime.errors import InputError

    with pytest.raises(InputError, match="no such rule file"):
        load_program([tmp_path / "nope.dlog"])
    bad = tmp_path / "bin.dlog"
    bad.write_bytes(b"\xff\xfe[?x")
    with pytest.raises(InputError, match="not UTF-8"):
        load_program([bad])


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)


@given(st.lists(st.tuples(names, names, names), min_size=1, max_size=4))
def test_any_simple_rule_round_trips_its_variables(triples):
    body = ", ".join(f"[?{s}, :{p}, ?{o}]" for s, p, o in triples)
    s, _, o = triples[0]
    prog = parse_program(f"[?{s}, :out, ?{o}] :- {body} .", prefixes=P)
    rule = prog.rules[0]
    assert rule.head[0].args[0] == Var(s) and rule.head[0].args[2] == Var(o)
    assert [a.args[1] for a in rule.body] == [Const(f"<http://e/{p}>") for _, p, _ in triples]
