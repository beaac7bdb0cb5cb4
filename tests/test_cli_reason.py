"""`fincrime reason` / `fincrime explain` end to end through the CLI entry point."""

from __future__ import annotations

from pathlib import Path

from fincrime.cli import main
from fincrime.rdf import read_ntriples

RULES = """
PREFIX : <http://e/>
[?x, :reaches, ?y] :- [?x, :pays, ?y] .
[?x, :reaches, ?z] :- [?x, :reaches, ?y], [?y, :pays, ?z] .
"""
DATA = "<http://e/a> <http://e/pays> <http://e/b> .\n<http://e/b> <http://e/pays> <http://e/c> .\n"


def _files(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "r.dlog"
    rules.write_text(RULES)
    data = tmp_path / "data"
    data.mkdir()
    (data / "d.nt").write_text(DATA)
    return rules, data


def test_reason_writes_derived_triples_and_prints_counts(tmp_path, capsys):
    rules, data = _files(tmp_path)
    out = tmp_path / "derived.nt"
    assert main(["reason", "-r", str(rules), "-d", str(data), "--out", str(out), "--stats"]) == 0
    derived = set(read_ntriples([out]).rows())
    assert ("<http://e/a>", "<http://e/reaches>", "<http://e/c>") in derived
    assert len(derived) == 3
    printed = capsys.readouterr().out
    assert "reaches" in printed and "reason" in printed and "new facts" in printed


def test_explain_prints_the_derivation_down_to_input(tmp_path, capsys):
    rules, data = _files(tmp_path)
    code = main(["explain", "-r", str(rules), "-d", str(data), "<http://e/a> <http://e/reaches> <http://e/c>"])
    assert code == 0
    out = capsys.readouterr().out
    assert "r.dlog:4" in out and ":a :pays :b  (input)" in out and ":b :pays :c  (input)" in out


def test_bad_rule_is_one_line_with_position_and_exit_2(tmp_path, capsys):
    _, data = _files(tmp_path)
    bad = tmp_path / "bad.dlog"
    bad.write_text("[?x, :p, ?y] :- [?x, :q ?y] .")
    out = tmp_path / "derived.nt"
    assert main(["reason", "-r", str(bad), "-d", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:1:25: expected ','" in err.splitlines()[0]
    assert not out.exists()


def test_bad_data_names_file_and_line_and_writes_nothing(tmp_path, capsys):
    rules, data = _files(tmp_path)
    (data / "e.nt").write_text("<http://e/a> <http://e/pays> .\n")
    out = tmp_path / "derived.nt"
    assert main(["reason", "-r", str(rules), "-d", str(data), "--out", str(out)]) == 2
    assert f"{data / 'e.nt'}:1:" in capsys.readouterr().err
    assert not out.exists()


def test_missing_inputs_and_bad_params(tmp_path, capsys):
    rules, data = _files(tmp_path)
    assert main(["reason", "-r", str(rules), "-d", str(tmp_path / "none.nt")]) == 2
    assert main(["reason", "-r", str(rules), "-d", str(data), "--param", "novalue"]) == 2
    assert main(["reason", "-r", str(rules), "-d", str(data), "--engine", "gpu"]) == 2
    err = capsys.readouterr().err
    assert "none.nt: no such file" in err and "expected name=value" in err and "unknown engine" in err


def test_every_command_has_help_with_an_example(capsys):
    from fincrime.cli import app

    names = sorted({c.name or c.callback.__name__ for c in app.registered_commands})
    assert {"reason", "explain", "generate"} <= set(names)
    for name in names:
        assert main([name, "--help"]) == 0
        assert "Example" in capsys.readouterr().out, name


def test_prefix_option_replaces_the_default_prefix_or_fails_cleanly(tmp_path, capsys):
    rules = tmp_path / "r.dlog"
    rules.write_text("[?x, :reaches, ?y] :- [?x, :pays, ?y] .\n")
    data = tmp_path / "d.nt"
    data.write_text(DATA)
    for option in ("=http://e/", ":=http://e/", ":=<http://e/>"):
        out = tmp_path / "o.nt"
        assert main(["reason", "-r", str(rules), "-d", str(data), "--prefix", option, "--out", str(out)]) == 0
        assert read_ntriples([out]).height == 2, option  # ':' now means http://e/
    capsys.readouterr()
    for option, needle in (("x=relative", "not an absolute IRI"), ("b@d=http://e/", "bad prefix name"),
                           ("noequals", "expected name=value")):
        assert main(["reason", "-r", str(rules), "-d", str(data), "--prefix", option]) == 2
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1


def test_shell_expanded_globs_after_one_flag(tmp_path, capsys):
    """Issue 11, item 22: ``--data dir/*.nt`` and ``--rules a.dlog b.dlog`` as a shell passes them."""
    rules, data = _files(tmp_path)
    (data / "e.nt").write_text("<http://e/c> <http://e/pays> <http://e/d> .\n")
    extra = tmp_path / "more.dlog"
    extra.write_text("PREFIX : <http://e/>\n[?x, :linked, ?y] :- [?x, :reaches, ?y] .\n")
    out = tmp_path / "derived.nt"
    files = [str(p) for p in sorted(data.glob("*.nt"))]
    assert main(["reason", "--rules", str(rules), str(extra), "--data", *files, "--out", str(out)]) == 0
    derived = set(read_ntriples([out]).rows())
    assert ("<http://e/a>", "<http://e/reaches>", "<http://e/d>") in derived  # both data files were read
    assert ("<http://e/a>", "<http://e/linked>", "<http://e/d>") in derived  # both rule files were loaded
    code = main(["explain", "-r", str(rules), str(extra), "-d", *files, "<http://e/a> <http://e/linked> <http://e/d>"])
    assert code == 0 and "linked" in capsys.readouterr().out


def test_param_values_are_typed_alike_by_reason_and_run(tmp_path, monkeypatch):
    """One ``name=value`` parser and one typing: ``reason`` and a job's rules see the same term."""
    rules = tmp_path / "p.dlog"
    rules.write_text("@prefix param: <https://w3id.org/fincrime/param#> .\n"
                     "[?p, <http://e/seen>, ?v] :- [param:job, ?p, ?v] .\n")
    data = tmp_path / "d.nt"
    data.write_text(DATA)
    out = tmp_path / "derived.nt"
    assert main(["reason", "-r", str(rules), "-d", str(data), "--out", str(out),
                 "--param", "minimum=1e-05", "--param", "start = 2024-01-01T00:00:00", "-p", "big=1E5"]) == 0
    seen = {s.rsplit("#", 1)[1][:-1]: o for s, p, o in read_ntriples([out]).rows() if p == "<http://e/seen>"}
    xsd = "http://www.w3.org/2001/XMLSchema#"
    assert seen == {"minimum": f'"1e-05"^^<{xsd}double>', "start": f'"2024-01-01T00:00:00"^^<{xsd}dateTime>',
                    "big": f'"1E5"^^<{xsd}double>'}
    # `fincrime run` takes the same text and the job's rules type it the same way
    folder = tmp_path / "in" / "ds"
    folder.mkdir(parents=True)
    (folder / "d.nt").write_text(DATA)
    (folder / "p.dlog").write_text(rules.read_text())
    (folder / "ds.job.json").write_text('{"name": "ds", "data": "*.nt", "rules": "*.dlog", "targets": []}')
    monkeypatch.setenv("FINCRIME_HOME", str(tmp_path / "home"))
    assert main(["run", str(folder / "ds.job.json"), "--output", str(tmp_path / "out"), "--no-progress",
                 "--param", "minimum=1e-05", "--param", "start = 2024-01-01T00:00:00", "-p", "big=1E5"]) == 0
    (results,) = (tmp_path / "out" / "ds").glob("*/results.nt")
    from_job = {s.rsplit("#", 1)[1][:-1]: o for s, p, o in read_ntriples([results]).rows() if p == "<http://e/seen>"}
    assert from_job == seen
