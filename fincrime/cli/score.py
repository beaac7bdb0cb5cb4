"""``fincrime score``: precision and recall of a finished job's typology findings."""

from __future__ import annotations

from pathlib import Path

import typer

from fincrime.cli.common import console
from fincrime.errors import InputError
from fincrime.scoring import dumps, render_table, score_job
from fincrime.workspace import Workspace


def score_cmd(
    job: str | None = typer.Option(None, "--job", help="Job id (its folder is found under the output root)."),
    job_dir: Path | None = typer.Option(None, "--job-dir", help="Job output folder, instead of --job."),
    ground_truth: Path | None = typer.Option(
        None, "--ground-truth", help="Ground-truth file (.nt, .nt.gz or the generator's .csv); default: "
        "the job spec's ground_truth, else attempts in the job's data."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as JSON (shape: fincrime.scoring)."),
    output_root: Path | None = typer.Option(None, "--output-root", help="Where job folders live (default ./output or $FINCRIME_OUTPUT)."),
) -> None:
    """Score a finished job's typology findings against ground truth, per typology.

    Prints attempts, found, recall, flagged, correct, precision and F1 for every typology, and a
    row for flagged parties or transactions that take part in no attempt at all.

    Example: fincrime score --job demo_20250101_001 --json
    """
    if (job is None) == (job_dir is None):
        raise InputError("give exactly one of --job ID or --job-dir PATH")
    folder = job_dir if job_dir is not None else Workspace.from_env(output_root).find_job_dir(job or "")
    if not folder.is_dir():
        raise InputError(f"--job-dir {folder}: no such folder")
    if ground_truth is not None and not ground_truth.is_file():
        raise InputError(f"--ground-truth {ground_truth}: no such file")
    card = score_job(folder, ground_truth)
    if as_json:
        typer.echo(dumps(card))
        return
    console.print(render_table(card))
    console.print(f"ground truth: {', '.join(card.sources)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("score")(score_cmd)
