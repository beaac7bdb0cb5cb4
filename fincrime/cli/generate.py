"""``fincrime generate``: synthetic transactions with injected laundering typologies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from fincrime.cli.common import console

if TYPE_CHECKING:
    from fincrime.generator import GenerationReport

HELP = """Generate parties and transactions in the reference vocabulary, with ground truth.

Writes parties-<i> and transactions-<i> files (.nt, .nt.gz or .parquet), ground-truth.nt and ground-truth.csv (each laundering attempt: its typology, transactions and parties) and generation.json (the settings used, seed included, and the counts). The same seed and settings give the same bytes whatever --files is. Counts accept 10000, 10_000, 10k, 1M, 1e6.

Typologies: fan_in, fan_out, cycle, scatter_gather, gather_scatter, layering, structuring, bipartite. --typology takes auto (realistic default: each one once per 100,000 transactions), none (original default) or name=COUNT[:SIZE[-MAX]] items such as layering=5:4-12.

Timing: --attempt-days spreads each attempt over days or weeks and --resolution day gives day-stepped dates, as independent AML simulators produce; e.g. --days 120 --attempt-days 30 --resolution day.

Example: fincrime generate --transactions 1M --files 4 --format nt.gz --seed 7 --end-date 2024-06-30 --typology fan_in=20,cycle=10,layering=5:4-12 --out input/big
"""


def register(app: typer.Typer) -> None:
    @app.command("generate", help=HELP, no_args_is_help=False)
    def generate_command(
        transactions: str = typer.Option(
            "10000", "--transactions", "-n", metavar="N", help="Number of transactions."
        ),
        parties: str = typer.Option(
            None, "--parties", metavar="N", help="Number of parties (default: transactions/10)."
        ),
        suspicious_ratio: str = typer.Option(
            "0.0001", "--suspicious-ratio", metavar="R", help="Share of parties flagged suspicious."
        ),
        days: str = typer.Option("3", "--days", metavar="D", help="Days of activity."),
        end_date: str = typer.Option(
            None,
            "--end-date",
            metavar="DATE",
            help="End of the period, ISO date or date-time, UTC (default: now); fix it for "
            "reproducible output.",
        ),
        files: str = typer.Option(
            "1", "--files", metavar="N", help="Split the output into N file pairs."
        ),
        seed: str = typer.Option(
            None,
            "--seed",
            metavar="S",
            help="Random seed (default: a fresh one, printed in the report).",
        ),
        fmt: str = typer.Option(
            "nt", "--format", metavar="nt|nt.gz|parquet", help="Output format."
        ),
        profile: str = typer.Option(
            "realistic",
            "--profile",
            metavar="original|realistic",
            help="original = the reference generator's distributions; realistic = heavy-tailed "
            "activity, log-normal amounts with cents, business hours.",
        ),
        typology: str = typer.Option(
            None,
            "--typology",
            metavar="SPEC",
            help="Injected attempts: auto, none or name=COUNT[:SIZE[-MAX]],...",
        ),
        chain_suspicious_prob: str = typer.Option(
            "1.0",
            "--chain-suspicious-prob",
            metavar="P",
            help="Chance that a layering chain's originator and final beneficiary are each "
            "flagged suspicious.",
        ),
        structuring_threshold: str = typer.Option(
            "10000",
            "--structuring-threshold",
            metavar="AMOUNT",
            help="Reporting threshold that structuring stays under.",
        ),
        hop_margin: str = typer.Option(
            "0.03", "--hop-margin", metavar="M", help="Mean share kept back at each hop of a chain."
        ),
        attempt_days: str = typer.Option(
            None,
            "--attempt-days",
            metavar="D",
            help="Spread every laundering attempt over half to all of D days (default: each "
            "typology's own short span, hours to a few days).",
        ),
        resolution: str = typer.Option(
            "second",
            "--resolution",
            metavar="second|minute|hour|day",
            help="Round every date down to this unit (day: the transfers of a day share one "
            "instant, as in day-stepped simulators).",
        ),
        out: Path = typer.Option(
            Path("input/generated"),
            "--out",
            "-o",
            metavar="DIR",
            help="Output directory (created if missing).",
        ),
        force: bool = typer.Option(
            False, "--force", help="Replace generated data already in --out."
        ),
        as_json: bool = typer.Option(
            False, "--json", help="Print the report as JSON instead of a table."
        ),
    ) -> None:
        from fincrime.generator import GeneratorConfig, generate

        config = GeneratorConfig(
            out=out,
            transactions=transactions,  # option text; resolve() parses it
            parties=parties,
            suspicious_ratio=suspicious_ratio,
            days=days,
            end_date=end_date,
            files=files,
            seed=seed,
            format=fmt,
            profile=profile,
            typologies=typology,
            chain_suspicious_prob=chain_suspicious_prob,
            structuring_threshold=structuring_threshold,
            hop_margin=hop_margin,
            attempt_days=attempt_days,
            resolution=resolution,
            overwrite=force,
        )
        if console.is_terminal and not as_json:
            report = _with_progress(lambda progress: generate(config, progress=progress))
        else:
            report = generate(config)
        if as_json:
            typer.echo(
                json.dumps(report.to_dict() | {"seconds": round(report.seconds, 3)}, indent=2)
            )
        else:
            _print_report(report)


def _with_progress(run):  # type: ignore[no-untyped-def]

    columns = (
        TextColumn("[bold]{task.description:<12}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total, rate="")
            task = bar.tasks[tasks[phase]]
            speed = task.speed
            bar.update(tasks[phase], completed=done, rate=f"{speed:,.0f}/s" if speed else "")

        return run(progress)


def _print_report(report: GenerationReport) -> None:
    table = Table(title=f"Generated into {report.out}", title_justify="left")
    table.add_column("file")
    table.add_column("kind")
    table.add_column("rows", justify="right")
    table.add_column("size", justify="right")
    for f in report.files:
        table.add_row(f.path.name, f.kind, f"{f.rows:,}", _size(f.bytes))
    console.print(table)

    summary = Table(show_header=False, box=None, pad_edge=False)
    summary.add_column(style="bold")
    summary.add_column()
    seconds = max(report.seconds, 1e-9)
    attempts = ", ".join(f"{k} {v}" for k, v in report.attempts.items()) or "none"
    rows = [
        ("parties", f"{report.parties:,} ({report.suspicious_parties:,} suspicious)"),
        ("transactions", f"{report.transactions:,} ({report.injected_transactions:,} in attempts)"),
        ("attempts", attempts),
        ("triples", f"{report.triples:,}"),
        ("period", f"{report.start.isoformat()} to {report.end.isoformat()} ({report.profile} profile)"),
        ("time", f"{report.seconds:.2f} s, {report.transactions / seconds:,.0f} transactions/s, "
         f"{report.data_bytes / seconds / 1e6:,.0f} MB/s written"),
        ("reproduce", f"--seed {report.seed} --end-date {report.end.isoformat()}"),
    ]  # fmt: skip
    if report.removed:
        rows.append(("replaced", ", ".join(p.name for p in report.removed)))
    for key, value in rows:
        summary.add_row(key, value)
    console.print(summary)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)
