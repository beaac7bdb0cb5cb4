"""``fincrime generate`` from the command line: success, bad input, nothing half-written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_generator_support import data_files, run

from fincrime.cli import main
from fincrime.errors import InputError
from fincrime.generator import run as run_module
from fincrime.generator.sinks import OutputSet

FIXED = ["--seed", "5", "--end-date", "2024-06-30"]


def _visible(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def test_generate_writes_the_reference_file_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "dir"
    assert (
        main(
            ["generate", "-n", "2k", "--files", "2", "--format", "nt.gz", "--out", str(out), *FIXED]
        )
        == 0
    )
    assert _visible(out) == [
        "generation.json",
        "ground-truth.csv",
        "ground-truth.nt",
        "parties-0.nt.gz",
        "parties-1.nt.gz",
        "transactions-0.nt.gz",
        "transactions-1.nt.gz",
    ]
    shown = capsys.readouterr().out
    assert "transactions-1.nt.gz" in shown and "--seed 5" in shown


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "generate",
        "-n",
        "1500",
        "--profile",
        "original",
        "--json",
        "--out",
        str(tmp_path),
        *FIXED,
    ]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["transactions"] == 1500 and report["counts"]["parties"] == 150
    assert report["profile"] == "original" and report["seed"] == 5


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["-n", "0"], "--transactions"),
        (["-n", "-5"], "--transactions"),
        (["-n", "lots"], "--transactions"),
        (["-n", "1.5"], "--transactions"),
        (["--parties", "1"], "--parties"),
        (["--suspicious-ratio", "1.5"], "--suspicious-ratio"),
        (["--suspicious-ratio", "nan"], "--suspicious-ratio"),
        (["--days", "0"], "--days"),
        (["--files", "0"], "--files"),
        (["-n", "10", "--files", "11"], "--files"),
        (["--format", "xml"], "--format"),
        (["--profile", "fancy"], "--profile"),
        (["--end-date", "yesterday"], "--end-date"),
        (["--seed", "-1"], "--seed"),
        (["--typology", "smurfing=3"], "--typology"),
        (["--typology", "cycle=2:1"], "--typology cycle"),
        (["--typology", "cycle"], "--typology"),
        (["--typology", "cycle=1,cycle=2"], "--typology"),
        (["-n", "100", "--typology", "bipartite=7:4"], "--typology"),
        (["--parties", "5", "--typology", "gather_scatter=1:3"], "--typology gather_scatter"),
        (["-n", "1M", "--days", "1", "--typology", "bipartite=1:300"], "--typology bipartite"),
        (["--chain-suspicious-prob", "2"], "--chain-suspicious-prob"),
        (["--hop-margin", "0"], "--hop-margin"),
        (["--structuring-threshold", "5"], "--structuring-threshold"),
        (["--days", "5", "--attempt-days", "6"], "--attempt-days"),
        (["--resolution", "fortnight"], "--resolution"),
    ],
)
def test_bad_input_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], option: str
) -> None:
    out = tmp_path / "out"
    assert main(["generate", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("error:") == 1
    assert option in " ".join(err.split())  # the CLI may wrap long lines on narrow terminals
    assert _visible(out) == []


def test_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["generate", "-n", "100", "--out", str(blocker / "sub")]) == 2
    assert "--out" in capsys.readouterr().err


def test_existing_output_needs_force_and_stale_files_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(tmp_path, transactions=3_000, files=3)
    (tmp_path / "notes.txt").write_text("mine")
    before = (tmp_path / "transactions-2.nt").read_bytes()
    assert main(["generate", "-n", "1000", "--out", str(tmp_path), *FIXED]) == 2
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "transactions-2.nt").read_bytes() == before  # untouched
    assert main(["generate", "-n", "1000", "--force", "--out", str(tmp_path), *FIXED]) == 0
    assert [p.name for p in data_files(tmp_path, "transactions")] == ["transactions-0.nt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"  # not ours: kept


@pytest.mark.parametrize("error", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failed_run_leaves_nothing_that_looks_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    run(tmp_path, transactions=2_000)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    calls = {"n": 0}
    real = run_module.transaction_batch

    def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "transaction_batch", failing)
    with pytest.raises(type(error)):
        run(tmp_path, transactions=20_000, chunk_size=4096, overwrite=True, seed=99)
    # the previous dataset is intact and no partial file is left behind
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    fresh = tmp_path / "fresh"
    with pytest.raises(type(error)):
        calls["n"] = 0
        run(fresh, transactions=20_000, chunk_size=4096)
    assert _visible(fresh) == []


def test_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Example: fincrime generate" in " ".join(text.split())


def test_partial_files_of_dead_runs_are_swept(tmp_path: Path) -> None:
    dead = tmp_path / f".transactions-0.nt.partial-{2**22 + 12345}-0a1b"  # above any pid_max
    # a live process id (reused after a SIGKILL): with the folder's lock held no run is writing
    # here, so its partial file is an orphan too
    reused = tmp_path / f".parties-0.nt.partial-{os.getppid()}-0a1b"
    foreign = tmp_path / ".notes.txt.partial-99999999-0a1b"  # not one of our names
    for path in (dead, reused, foreign):
        path.write_bytes(b"half")
    run(tmp_path, transactions=500)
    assert not dead.exists() and not reused.exists() and foreign.exists()


def test_smallest_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "-n", "1", "--parties", "2", "--out", str(tmp_path), *FIXED]) == 0
    lines = (tmp_path / "transactions-0.nt").read_bytes().splitlines()
    assert len(lines) == 5 and len((tmp_path / "parties-0.nt").read_bytes().splitlines()) == 12
    assert (tmp_path / "ground-truth.nt").read_bytes() == b""


def test_a_second_run_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    first = OutputSet(tmp_path, overwrite=False)
    with pytest.raises(InputError, match="another run is writing"):
        OutputSet(tmp_path, overwrite=False)
    first.abort()
    OutputSet(tmp_path, overwrite=False).abort()  # free again once the first run ended
