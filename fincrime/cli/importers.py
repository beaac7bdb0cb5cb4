"""``fincrime import amlworld | amlsim``: public AML benchmark data in the reference vocabulary."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from fincrime.cli.common import console
from fincrime.errors import InputError

app = typer.Typer(
    help="Import public AML benchmark data (IBM AMLworld, IBM AMLSim) with its ground truth.\n\n"
    "Example: fincrime import amlworld HI-Small_Trans.csv --patterns HI-Small_Patterns.txt --out input/hi-small",
    no_args_is_help=True,
)


def _run(work: Callable[[Callable[[int, int], None]], dict[str, Any]], as_json: bool) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    if as_json or not console.is_terminal:
        report = work(lambda done, total: None)
    else:
        with Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("import", total=None)
            report = work(lambda done, total: bar.update(task, completed=done, total=total))
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    from rich.table import Table

    counts = report["counts"]
    table = Table(title=f"imported from {report['source']}")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("parties", f"{counts['parties']:,}")
    table.add_row("transactions", f"{counts['transactions']:,}")
    for typ, n in counts["attempts"].items():
        table.add_row(f"attempts: {typ}", f"{n:,}")
    console.print(table)
    for note in report.get("notes", []):
        console.print(f"note: {note}", highlight=False)


@app.command("amlworld")
def amlworld(
    csv_file: Path = typer.Argument(..., help="AMLworld transactions CSV (e.g. HI-Small_Trans.csv)."),
    patterns: Path | None = typer.Option(None, "--patterns", help="Its laundering patterns file (e.g. HI-Small_Patterns.txt): the ground truth's typologies."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write parties-0.nt.gz, transactions-0.nt.gz, ground-truth.nt, import.json."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier import in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import an IBM AMLworld transactions CSV and its patterns file.

    Accounts are (bank, account) pairs; amounts are converted to US dollars with rates taken
    from the file; each patterns-file block is one laundering attempt.

    Example: fincrime import amlworld HI-Small_Trans.csv --patterns HI-Small_Patterns.txt --out input/hi-small
    """
    from fincrime.importers import import_amlworld

    if not csv_file.is_file():
        raise InputError(f"{csv_file}: no such file")
    if patterns is not None and not patterns.is_file():
        raise InputError(f"--patterns {patterns}: no such file")
    _run(lambda p: import_amlworld(csv_file, out, patterns=patterns, overwrite=force, progress=p), as_json)


@app.command("amlsim")
def amlsim(
    folder: Path = typer.Argument(..., help="AMLSim output folder (transactions.csv, accounts.csv, alert_*.csv ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write parties-0.nt.gz, transactions-0.nt.gz, ground-truth.nt, import.json."),
    base_date: str = typer.Option("2017-01-01", "--base-date", help="The date of simulation step 0 (when timestamps are steps)."),
    force: bool = typer.Option(False, "--force", help="Replace an earlier import in --out."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Import an IBM AMLSim output folder; SAR alerts become the ground truth.

    Example: fincrime import amlsim outputs/sample --out input/amlsim-sample
    """
    from fincrime.importers import import_amlsim

    _run(lambda p: import_amlsim(folder, out, base_date=base_date, overwrite=force, progress=p), as_json)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="import")
