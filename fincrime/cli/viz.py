"""``fincrime viz``: chain pictures, overview and the investigator report of a job."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from fincrime.cli.common import console
from fincrime.errors import InputError
from fincrime.workspace import Workspace


def viz(
    job: str | None = typer.Option(None, "--job", help="Job id (its folder is found under the output root)."),
    job_dir: Path | None = typer.Option(None, "--job-dir", help="Job output folder, instead of --job."),
    chain: list[str] = typer.Option([], "--chain", help="Draw this chain (IRI); repeatable. Default: the top N."),
    top: int | None = typer.Option(None, "--top", help="Draw the N chains with the largest bottleneck (default 50)."),
    fmt: list[str] = typer.Option([], "--format", "-f", help="html | svg | png; repeatable or comma-separated (default: html,svg)."),
    overview_cap: int = typer.Option(300, "--overview-cap", help="Most parties drawn in the overview graph."),
    report: bool = typer.Option(True, "--report/--no-report", help="Also write report.html, chains.csv, chains.json."),
    output_root: Path | None = typer.Option(None, "--output-root", help="Where job folders live (default ./output or $FINCRIME_OUTPUT)."),
) -> None:
    """Draw a job's chains and overview, and write its investigator report (all offline).

    Pictures: one interactive HTML page per chain (plus SVG/PNG), the overview party graph and
    a timeline under viz/; report.html, chains.csv and chains.json in the job folder.

    Example: fincrime viz --job demo_20250101_001 --top 20 --format html --format png
    """
    from fincrime.viz import render_job, write_report
    from fincrime.viz.loader import load_job

    if (job is None) == (job_dir is None):
        raise InputError("give exactly one of --job ID or --job-dir PATH")
    if chain and top is not None:
        raise InputError("--chain and --top exclude each other")
    folder = job_dir if job_dir is not None else Workspace.from_env(output_root).find_job_dir(job or "")
    if not folder.is_dir():
        raise InputError(f"--job-dir {folder}: no such folder")
    with console.status("reading job outputs…"):
        data = load_job(folder)
    written: list[Path] = []
    with Progress(
        TextColumn("drawing chains"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:
        task = bar.add_task("chains", total=None)
        written += render_job(
            folder, formats=tuple(x for f in fmt for x in f.split(",") if x) or ("html", "svg"),
            top=top, chains=chain or None, overview_cap=overview_cap,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if report:
        with console.status("writing report…"):
            report_path = write_report(folder)
        written += [report_path, report_path.with_name("chains.csv"), report_path.with_name("chains.json")]
    table = Table(title=f"job {data.job_id}: {len(data.chains):,} reported chains")
    table.add_column("output")
    table.add_column("files", justify="right")
    groups: dict[str, int] = {}
    for p in written:
        rel = p.relative_to(data.job_dir)
        key = f"viz/chains/*.{p.suffix.lstrip('.')}" if rel.parts[:2] == ("viz", "chains") else str(rel)
        groups[key] = groups.get(key, 0) + 1
    for key, n in groups.items():
        table.add_row(key, str(n))
    console.print(table)
    for note in data.notes:
        console.print(f"[yellow]note:[/] {note}")
    if report:
        console.print(f"open {data.job_dir / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command("viz")(viz)
