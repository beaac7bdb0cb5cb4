"""A program that derives without end is stopped by a limit, with a message naming what grows."""

from __future__ import annotations

import pytest
from engine_support import run

from fincrime.cli import main
from fincrime.engine.limits import EngineLimit

RUNAWAY = "[?x, :next, ?m] :- [?x, :next, ?n], BIND(?n + 1 AS ?m) ."
START = '<:a> <:next> "0"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'


def test_max_facts_stops_a_runaway_rule_and_names_the_relation():
    with pytest.raises(EngineLimit) as err:
        run(RUNAWAY, START, max_facts=50)
    message = err.value.one_line()
    assert "more than the limit of 50 (--max-facts)" in message
    assert "[?, <http://e/next>, ?] (+1 in the last round)" in message


def test_timeout_stops_a_runaway_rule():
    with pytest.raises(EngineLimit) as err:
        run(RUNAWAY, START, timeout=0.5)
    assert "(--timeout)" in err.value.one_line()


def test_a_program_within_its_limits_runs_to_the_end():
    bounded = "[?x, :next, ?m] :- [?x, :next, ?n], FILTER(?n < 5), BIND(?n + 1 AS ?m) ."
    result = run(bounded, START, max_facts=50)
    assert result.count() == 5


def test_reason_cli_reports_the_limit_in_one_line(tmp_path, capsys):
    (tmp_path / "r.dlog").write_text("PREFIX : <http://e/>\n" + RUNAWAY + "\n")
    (tmp_path / "d.nt").write_text(START.replace("<:", "<http://e/"))
    code = main(["reason", "-r", str(tmp_path / "r.dlog"), "-d", str(tmp_path / "d.nt"), "--max-facts", "40"])
    err = capsys.readouterr().err
    assert code == 1
    assert "more than the limit of 40" in err and "Traceback" not in err
