"""``fincrime run``, ``fincrime watch``, ``fincrime jobs ...`` and ``fincrime demo``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from fincrime.cli.common import console, console_err, parse_pairs, state
from fincrime.errors import InputError
from fincrime.jobfolder import REPORT
from fincrime.jobs import registry as R
from fincrime.jobs.problems import SpecRejected
from fincrime.jobs.schema import spec_schema
from fincrime.workspace import Workspace

jobs_app = typer.Typer(
    help="Inspect and control jobs in the registry (FINCRIME_HOME/registry.sqlite).\n\n"
    "Example: fincrime jobs list --status failed",
    no_args_is_help=True,
)


class RunDisplay:
    """Shows a job's events: a line per phase, progress bars for queries and loads."""

    def __init__(self) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                 console=console, transient=False)
        self.tasks: dict[str, Any] = {}
        self.live = False

    def _task(self, key: str, label: str, total: int) -> Any:
        if not self.live:
            self.progress.start()
            self.live = True
        if key not in self.tasks:
            self.tasks[key] = self.progress.add_task(label, total=total or None)
        return self.tasks[key]

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "phase" and event["phase"] == "reason":
            console.print(f"[bold]reasoning[/] over {event['data']} data file(s) with {event['rules']} rule file(s)")
        elif kind == "phase" and event["phase"] == "query":
            self._task("query", "queries", event["total"])
        elif kind == "query":
            self.progress.update(self._task("query", "queries", event["total"]), completed=event["done"])
        elif kind == "phase" and event["phase"].startswith("load["):
            task = self._task("load", "loading stores", event["total"])
            self.progress.update(task, completed=event["done"], description=f"loading {event['target']}")
        elif kind == "phase_done" and event["phase"].startswith("load["):
            task = self.tasks.get("load")
            if task is not None:
                self.progress.advance(task)
        elif kind == "phase" and event["phase"] == "visualize":
            self._task("viz", "visualizations", 1)
        elif kind == "phase_done" and event["phase"] == "visualize":
            self.progress.update(self._task("viz", "visualizations", 1), completed=1)
        elif kind == "phase_done" and event["phase"] == "reason":
            for key in ("read", "round"):  # the engine's bars end with the phase
                if key in self.tasks:
                    task = self.progress.tasks[self.tasks[key]]
                    self.progress.update(self.tasks[key], total=task.total or 1, completed=task.total or 1)
            chains = event.get("chains", {})
            console.print(f"  {event['derived_triples']:,} derived triples, chains: "
                          + ", ".join(f"{k} {v:,}" for k, v in chains.items()) + f" ({event['seconds']:.1f} s)")
        elif kind == "engine" and event.get("kind") == "read" and event.get("total"):
            # reading the input: a bar in MB of text, with the triples per second and what is left
            task = self._task("read", "reading input", 0)
            self.progress.update(task, total=event["total"], completed=event.get("done", 0),
                                 description=f"reading input ({event.get('rate', 0):,.0f} triples/s)")
        elif kind == "engine" and event.get("kind") == "round":
            task = self._task("round", "reasoning", 0)
            self.progress.update(task, description=f"reasoning: {event['message']}", total=None)
        elif kind == "engine":
            console.print(f"  [dim]{event['message']}[/]", highlight=False)
        elif kind == "retry":
            console_err.print(f"[yellow]retry:[/] {event['message']} (waiting {event['wait_seconds']:g} s)")
        elif kind == "skip":
            console.print(f"  {event['phase']}: {event['message']}")

    def close(self) -> None:
        if self.live:
            self.progress.stop()


def _summary(job: Any) -> None:
    table = Table(title=f"job {job.id}", show_header=False)
    colour = {"done": "green", "failed": "red", "cancelled": "yellow", "rejected": "red"}.get(job.status, "white")
    table.add_row("status", f"[{colour}]{job.status}[/]")
    table.add_row("output", str(job.output_dir or "-"))
    counts = job.counts or {}
    if counts:
        table.add_row("derived triples", f"{counts.get('derived_triples', 0):,}")
        for name, n in (counts.get("chains") or {}).items():
            table.add_row(name, f"{n:,}")
        for name, rows in (counts.get("queries") or {}).items():
            table.add_row(f"query {name}", f"{rows:,} rows")
        for load in counts.get("loads") or []:
            table.add_row(f"loaded {load.get('type')}", ", ".join(f"{k} {v}" for k, v in load.items() if isinstance(v, int)))
    if job.error:
        table.add_row("error", job.error)
    console.print(table)


def _problems(problems: list[dict[str, Any]]) -> None:
    for p in problems:
        console_err.print(f"  - {p['where']}: {p['message']}", markup=False, highlight=False, soft_wrap=True)


def run_spec(spec: Path, output: Path | None, params: dict[str, Any], engine: str | None, progress: bool) -> Any:
    """Validates, registers and runs one spec in the foreground; returns the final job record."""
    from fincrime.jobs.service import notify_finished, submit

    workspace = Workspace.from_env(output)
    with R.Registry(workspace.registry_path) as registry:
        sub = submit(registry, spec, workspace.output_root, params=params or None, engine=engine)
        if sub.status == R.REJECTED:
            console_err.print(f"[red]rejected[/] {spec} ({sub.job_id}): {len(sub.problems)} problem(s), "
                              f"written to {spec.name}.errors.json")
            _problems([p.to_dict() for p in sub.problems])
            notify_finished(registry, sub.job_id)
            return registry.get(sub.job_id)
        console.print(f"job [bold]{sub.job_id}[/] -> {registry.get(sub.job_id).output_dir}")
        return _run_claimed(registry, sub.job_id, workspace, progress)


def _run_claimed(registry: Any, job_id: str, workspace: Any, progress: bool) -> Any:
    from fincrime.jobs.runner import run_job
    from fincrime.jobs.service import notify_finished

    lease = R.Lease.mine()
    if not registry.claim(job_id, lease, "started in the foreground (fincrime run)"):
        raise InputError(f"job {job_id} is not queued (someone else started it?)")
    display = RunDisplay() if progress else None
    try:
        record = run_job(registry, job_id, lease, workspace=workspace, observer=display, progress=progress,
                         debug=state.debug)
    finally:
        if display:
            display.close()
    for report in notify_finished(registry, job_id):
        console.print(f"notified: {report['type']} {'sent' if report['ok'] else '[red]FAILED[/]'} ({report.get('detail')})")
    return record


def _exit_for(status: str) -> None:
    if status == "rejected":
        raise typer.Exit(2)
    if status != "done":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        spec: Path = typer.Argument(..., help="A *.job.json (or reference *.rdfoxjob.json) spec."),
        output: Path = typer.Option(None, "--output", "-o", help="Output root (default ./output or FINCRIME_OUTPUT)."),
        param: list[str] = typer.Option([], "--param", "-p", help="Override a rule parameter: name=value."),
        engine: str = typer.Option(None, "--engine", help="Override the engine: memory or spark."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars."),
    ) -> None:
        """Run one job in the foreground with progress bars.

        Example: fincrime run input/demo/demo.job.json --param highValueThreshold=20000
        """
        if engine not in (None, "memory", "spark"):
            raise InputError(f"--engine {engine!r}: expected memory or spark")
        params = parse_pairs(param, "param")
        record = run_spec(spec, output, params, engine, progress=not no_progress)
        if record.status != "rejected":
            _summary(record)
        _exit_for(record.status)

    @app.command("watch")
    def watch_cmd(
        input_dir: str = typer.Argument(..., help="Input folder INPUT/<dataset>/*.job.json, or a bucket s3://bucket/prefix."),
        output: Path = typer.Option(None, "--output", "-o", help="Output root (default ./output or FINCRIME_OUTPUT)."),
        workers: int = typer.Option(2, "--workers", "-w", min=1, help="Jobs running at once."),
        cores: int = typer.Option(None, "--cores", min=1, help="Cores jobs may declare in total (default: all)."),
        memory: str = typer.Option(None, "--memory", help="Memory jobs may declare in total, e.g. 16g (default: RAM)."),
        interval: float = typer.Option(1.0, "--interval", min=0.05, help="Seconds between scans."),
        settle: float = typer.Option(1.0, "--settle", min=0.0, help="Seconds a spec must stay unchanged before it is read."),
        reject_after: float = typer.Option(10.0, "--reject-after", min=0.0, help="Seconds an unparseable spec may stay unchanged before it is rejected."),
        once: bool = typer.Option(False, "--once", help="Process what is there, wait for it to finish, then exit."),
        endpoint_url: str = typer.Option(None, "--endpoint-url", help="S3-compatible endpoint for an s3:// input (default: AWS)."),
        output_bucket: str = typer.Option(None, "--output-bucket", help="Also upload finished job folders to s3://bucket/prefix."),
        max_attempts: int = typer.Option(3, "--max-attempts", min=1, max=100, help="Attempts of a job whose worker died before it is failed."),
    ) -> None:
        """Start jobs as specs appear in INPUT; survives restarts (interrupted jobs resume).

        Example: fincrime watch input --output output --workers 2
        Example: fincrime watch s3://cases/in --endpoint-url http://127.0.0.1:9000 --output-bucket s3://cases/out
        """
        from fincrime.jobs.spec import memory_mb
        from fincrime.jobs.watcher import Watcher, WatchOptions

        is_bucket = input_dir.startswith("s3://")
        if not is_bucket and (endpoint_url or output_bucket):
            raise InputError("--endpoint-url and --output-bucket go with an s3:// input")
        if not is_bucket and not Path(input_dir).is_dir():
            raise InputError(f"{input_dir}: no such input folder")
        options = WatchOptions(workers=workers, interval=interval, settle=settle, reject_after=reject_after, once=once,
                               max_attempts=max_attempts)
        if cores:
            options.cores = cores
        if memory:
            options.memory_mb = memory_mb(memory)
            if not options.memory_mb:
                raise InputError(f"--memory {memory!r}: expected a size such as 16g or 512m")
        workspace = Workspace.from_env(output)
        def say(text: str) -> None:
            console.print(text, markup=False, highlight=False)

        if is_bucket:
            from fincrime.bucket import watch_bucket

            watch_bucket(input_dir, workspace, options, endpoint_url=endpoint_url, output_url=output_bucket, say=say)
        else:
            Watcher(Path(input_dir), workspace, options, say=say).run()

    @jobs_app.command("list")
    def list_cmd(
        status: str = typer.Option(None, "--status", help="Only jobs in this status."),
        dataset: str = typer.Option(None, "--dataset", help="Only jobs of this dataset."),
        limit: int = typer.Option(50, "--limit", min=1, help="At most this many (newest first)."),
        as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
    ) -> None:
        """List jobs, newest first.

        Example: fincrime jobs list --status done --limit 10
        """
        if status and status not in R.STATUSES:
            raise InputError(f"--status {status!r}: one of {', '.join(R.STATUSES)}")
        with R.Registry(Workspace.from_env().registry_path) as registry:
            rows = registry.list(status=status, dataset=dataset, limit=limit)
        if as_json:
            console.print_json(json.dumps([{"id": j.id, "status": j.status, "dataset": j.dataset, "name": j.name,
                                            "created_at": j.created_at, "finished_at": j.finished_at,
                                            "output": j.output_dir, "error": j.error} for j in rows]))
            return
        table = Table("id", "status", "name", "created", "finished", "derived", "note")
        table.columns[0].no_wrap = True
        for j in rows:
            stale = " (owner gone)" if j.lease_is_stale(30) else ""
            note = j.error or (f"{len(j.problems)} problem(s)" if j.problems else "")
            table.add_row(j.id, j.status + stale, j.name or "", j.created_at[:19], (j.finished_at or "")[:19],
                          f"{j.counts.get('derived_triples', '')}", note[:60])
        console.print(table)

    @jobs_app.command("show")
    def show_cmd(
        job_id: str = typer.Argument(..., help="Job id."),
        as_json: bool = typer.Option(False, "--json", help="JSON instead of tables."),
    ) -> None:
        """Show a job: status, counts, problems and every state change with its time.

        Example: fincrime jobs show demo_20250101_001
        """
        with R.Registry(Workspace.from_env().registry_path) as registry:
            job, events = registry.get(job_id), registry.events(job_id)
        if as_json:
            doc = {k: v for k, v in job.__dict__.items() if k not in ("lease",)}
            doc["events"] = [e.__dict__ for e in events]
            console.print_json(json.dumps(doc, default=str))
            return
        _summary(job)
        console.print(f"spec: {job.spec_path}   attempts: {job.attempts}")
        if job.problems:
            console.print("[red]problems:[/]")
            _problems(job.problems)
        table = Table("time", "status", "message", title="history")
        for e in events:
            table.add_row(e.at, e.status, e.message or "")
        console.print(table)

    @jobs_app.command("retry")
    def retry_cmd(
        job_id: str = typer.Argument(..., help="A failed or cancelled job."),
        run: bool = typer.Option(False, "--run", help="Run it here now instead of leaving it to `fincrime watch`."),
    ) -> None:
        """Queue a failed or cancelled job again; finished phases are not redone.

        Example: fincrime jobs retry demo_20250101_003 --run
        """
        with R.Registry(Workspace.from_env().registry_path) as registry:
            registry.retry(job_id)
            if not run:
                console.print(f"{job_id} queued again; a running `fincrime watch` picks it up (or use --run)")
                return
            job = registry.get(job_id)
            root = Path(job.output_dir).parent.parent if job.output_dir else None
            record = _run_claimed(registry, job_id, Workspace.from_env(root), progress=True)
        _summary(record)
        _exit_for(record.status)

    @jobs_app.command("cancel")
    def cancel_cmd(job_id: str = typer.Argument(..., help="A queued or running job.")) -> None:
        """Cancel a job: a queued one at once, a running one at its next heartbeat.

        Example: fincrime jobs cancel demo_20250101_002
        """
        with R.Registry(Workspace.from_env().registry_path) as registry:
            outcome = registry.request_cancel(job_id)
        console.print(f"{job_id}: {outcome}")

    @jobs_app.command("validate")
    def validate_cmd(spec: Path = typer.Argument(..., help="A spec file.")) -> None:
        """Check a spec without running it; lists every problem.

        Example: fincrime jobs validate input/demo/demo.job.json
        """
        from fincrime.jobs.spec import validate_spec

        try:
            valid = validate_spec(spec)
        except SpecRejected as exc:
            console_err.print(exc.render(), markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        counts = ", ".join(f"{len(v)} {k}" for k, v in valid.files.items())
        console.print(f"{spec}: valid ({counts})")
        for key, why in (valid.notes.get("reference", {}).get("ignored") or {}).items():
            console.print(f"  ignored {key}: {why}")

    @jobs_app.command("schema")
    def schema_cmd(write: Path = typer.Option(None, "--write", help="Write to this file instead of printing.")) -> None:
        """Print the JSON Schema of job specs (published as jobs/schema.json).

        Example: fincrime jobs schema --write jobs/schema.json
        """
        text = json.dumps(spec_schema(), indent=2) + "\n"
        if write:
            write.write_text(text, encoding="utf-8")
        else:
            typer.echo(text, nl=False)

    @app.command("demo")
    def demo_cmd(
        transactions: int = typer.Option(10_000, "--transactions", min=100, help="Transactions to generate."),
        input_root: Path = typer.Option(Path("input"), "--input", help="Input root; the dataset goes to INPUT/demo."),
        output: Path = typer.Option(None, "--output", "-o", help="Output root (default ./output)."),
        regenerate: bool = typer.Option(False, "--regenerate", help="Generate the data again even if present."),
    ) -> None:
        """Generate a dataset with typologies into input/demo/ and run the example job end to end.

        Example: fincrime demo --transactions 20000
        """
        from fincrime.jobs.demo import prepare_demo

        spec = prepare_demo(input_root / "demo", transactions=transactions, regenerate=regenerate,
                            say=lambda t: console.print(t))
        record = run_spec(spec, output, {}, None, progress=True)
        if record.status != "rejected":
            _summary(record)
            chains = (record.counts or {}).get("chains", {})
            console.print(f"\nresults: [bold]{record.output_dir}[/]")
            if record.output_dir and (Path(record.output_dir) / REPORT).is_file():
                console.print(f"report:  {Path(record.output_dir) / REPORT}")
            console.print("chains:  " + ", ".join(f"{k} {v:,}" for k, v in chains.items()))
        _exit_for(record.status)

    app.add_typer(jobs_app, name="jobs")
