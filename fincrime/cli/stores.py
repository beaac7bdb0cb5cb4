"""Commands over the result stores: ``query``, ``load`` and ``serve-sparql``."""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
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
)
from rich.table import Table

from fincrime.cli.common import console, console_err
from fincrime.errors import FincrimeError, InputError
from fincrime.workspace import Workspace


def _read_query(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except FileNotFoundError:
        raise InputError(f"{p}: no such query file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def query(
    query_file: str = typer.Argument(..., metavar="QUERY.rq", help="SPARQL query file ('-' reads stdin)."),
    job: str | None = typer.Option(None, "--job", help="Query only this job's graphs (derived + inputs)."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Query a SPARQL 1.1 endpoint instead of the embedded store."),
    fmt: str | None = typer.Option(None, "--format", "-f", help="table | csv | json | nt (default: table on a terminal, else csv; nt for CONSTRUCT/DESCRIBE)."),
    user_env: str | None = typer.Option(None, "--user-env", help="Env variable holding the endpoint user (with --password-env)."),
    password_env: str | None = typer.Option(None, "--password-env", help="Env variable holding the endpoint password."),
    digest: bool = typer.Option(False, "--digest", help="Use HTTP digest auth instead of basic."),
    check: bool = typer.Option(True, "--check/--no-check", help="Parse the query locally first (line:column errors)."),
    gremlin: bool = typer.Option(False, "--gremlin", help="The file is a Gremlin script for the embedded Gremlin graph (implied by .gremlin/.groovy)."),
) -> None:
    """Run a SPARQL query (SELECT, CONSTRUCT, ASK, DESCRIBE) on the results.

    Also runs read-only Gremlin scripts on the embedded Gremlin graph (--gremlin).

    Example: fincrime query queries/suspicious-chains.rq --job demo_20250101_001 --format csv
    """
    from fincrime.stores.query import check_syntax, run_embedded, run_remote
    from fincrime.stores.results import FORMATS, write_result

    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    text, source = _read_query(query_file)
    if gremlin or source.endswith((".gremlin", ".groovy")):
        _gremlin_query(text, source, fmt)
        return
    if endpoint:
        if job:
            raise InputError("--job applies to the embedded store; with --endpoint name graphs in the query")
        form = check_syntax(text, source) if check else None
        auth = None
        if password_env:
            auth = {"type": "digest" if digest else "basic", "password_env": password_env}
            if user_env:
                auth["user_env"] = user_env
            else:
                raise InputError("--password-env needs --user-env")
        from fincrime.security.egress import egress_policy

        # the operator typed this endpoint: it may be on a private network
        result = run_remote(endpoint, text, source=source, auth=auth, form=form,
                            egress=egress_policy().allowing(endpoint))
    else:
        result = run_embedded(Workspace.from_env().store_dir, text, source=source, job_id=job)
    if fmt is None:
        fmt = "table" if console.is_terminal else ("nt" if result.form == "graph" else "csv")
    if fmt == "table":
        write_result(result, fmt, sys.stdout, console=console)
    else:
        write_result(result, fmt, sys.stdout)
        sys.stdout.flush()


def _gremlin_query(text: str, source: str, fmt: str | None) -> None:
    """Prints a Gremlin script's results: JSON (one document), CSV or a table of maps."""
    from fincrime.stores.gremlin import embedded_location, query_embedded

    rows = query_embedded(embedded_location({}, Workspace.from_env()), text, source=source)
    fmt = fmt or ("table" if console.is_terminal else "json")
    if fmt == "nt":
        raise InputError("--format nt is for SPARQL results; use json, csv or table with --gremlin")
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=str) + "\n")
        return
    maps = all(isinstance(r, dict) for r in rows) and rows
    columns = list(dict.fromkeys(k for r in rows for k in r)) if maps else ["value"]
    records = [[r.get(c, "") for c in columns] for r in rows] if maps else [[r] for r in rows]
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\r\n")
        writer.writerow(columns)
        writer.writerows([[json.dumps(v) if isinstance(v, list | dict) else v for v in r] for r in records])
        return
    table = Table(*columns, header_style="bold", caption=f"{len(records)} results")
    for r in records:
        table.add_row(*(str(v) for v in r))
    console.print(table)


def _named_targets(workspace: Any) -> dict[str, dict[str, Any]]:
    """Targets defined once for the workspace in ``FINCRIME_HOME/targets.json``."""
    path = workspace.home / "targets.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}") from None
    items = data.items() if isinstance(data, dict) else ((t.get("name"), t) for t in data)
    return {name: {**t, "name": name} for name, t in items if name}


def _url_fields(target: dict[str, Any]) -> list[str]:
    return [v for k in ("endpoint", "update", "graph_store", "url") if isinstance(v := target.get(k), str)]


def resolve_targets(job_files: Any, workspace: Any, target: str | None,
                    type_: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Which targets ``fincrime load`` uses: by name, inline JSON, by type, or the job's own.

    Also returns the URLs the operator supplied (inline JSON, ``FINCRIME_HOME/targets.json``):
    the egress policy lets those through; the URLs of a job spec stay under it.
    """
    from fincrime.stores import names, validate_target

    declared = job_files.spec_targets()
    trusted: list[str] = []
    operator = _named_targets(workspace)
    if target:
        if target.lstrip().startswith("{"):
            try:
                chosen = [json.loads(target)]
            except json.JSONDecodeError as exc:
                raise InputError(f"--target: invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(chosen[0], dict):
                raise InputError("--target: inline JSON must be an object with a \"type\"")
            trusted += _url_fields(chosen[0])
        else:
            named = {**operator, **{t["name"]: t for t in declared if t.get("name")}}
            if target in named:
                chosen = [named[target]]
                if target in operator and named[target] is operator[target]:
                    trusted += _url_fields(chosen[0])
            elif target in names():  # a type name: the spec's targets of that type, or its defaults
                chosen = [t for t in declared if t.get("type") == target] or [{"type": target}]
            else:
                known = ", ".join(sorted(named)) or "none"
                raise InputError(f"--target {target!r}: no such target in job {job_files.job_id}'s spec or "
                                 f"{workspace.home / 'targets.json'} (known: {known}; types: {', '.join(names())})")
    elif type_:
        chosen = [t for t in declared if t.get("type") == type_] or [{"type": type_}]
    else:
        chosen = declared or [{"type": "oxigraph"}]
    for i, t in enumerate(chosen):
        validate_target(t, where=f"target {t.get('name') or i + 1}")
    return chosen, trusted


def load(
    job: str = typer.Option(..., "--job", help="Job id (its folder is found under the output root)."),
    target: str | None = typer.Option(None, "--target", help="Target name (from the job spec or FINCRIME_HOME/targets.json) or inline JSON."),
    type_: str | None = typer.Option(None, "--type", help="Target type: oxigraph | sparql | gremlin | neptune."),
    output: Path | None = typer.Option(None, "--output", help="Output root holding <dataset>/<job-id>/ (default ./output)."),
) -> None:
    """Load a finished job's results into its stores (again, or after a target was down).

    Without --target/--type the job spec's targets are used (the embedded store if none).
    --target also takes a type name (oxigraph, sparql, gremlin, neptune).

    Example: fincrime load --job demo_20250101_001 --target virtuoso
    """
    from fincrime.security.egress import egress_policy
    from fincrime.stores import load_job, read_job

    workspace = Workspace.from_env(output)
    job_dir = workspace.find_job_dir(job)
    targets, trusted = resolve_targets(read_job(job_dir), workspace, target, type_)
    policy = egress_policy(workspace.home).allowing(*trusted)

    table = Table("target", "type", "graph / folder", "derived triples / elements", "seconds",
                  header_style="bold")
    failures: list[str] = []
    bad_input = False
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn())
    for t in targets:
        label = t.get("name") or t["type"]
        with Progress(*columns, console=console_err, transient=True) as bar:
            task = bar.add_task(f"{job} → {label}", total=None)
            try:
                report = load_job(job_dir, t, workspace, progress=lambda n, task=task: bar.advance(task, n),
                                  egress=policy)
            except FincrimeError as exc:  # one target failing must not keep the others from loading
                failures.append(f"{label}: {exc.one_line()}")
                bad_input = bad_input or isinstance(exc, InputError)
                continue
        where = report.get("graph") or report.get("folder") or report.get("url", "")
        count = report.get("derived_triples")
        if count is None:
            count = f"{report.get('vertices', 0)} vertices, {report.get('edges', 0)} edges"
        table.add_row(label, report["type"], str(where), str(count), str(report.get("seconds", "")))
    if table.row_count:
        console.print(table)
    for line in failures:
        console_err.print(f"error: {line}", markup=False, highlight=False, soft_wrap=True)
    if failures:
        error = InputError if bad_input else FincrimeError
        raise error(f"{len(failures)} of {len(targets)} target(s) failed; results stay in "
                    f"{job_dir}; retry with `fincrime load --job {job}`")


def serve_sparql(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(7878, "--port", help="TCP port (0 picks a free one)."),
    job: str | None = typer.Option(None, "--job", help="Serve only this job's graphs as the default graph."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.1, help="Seconds a query may run before it is stopped (default 30, or serve.timeout_seconds)."),
    workers: int | None = typer.Option(None, "--workers", min=1, max=64, help="Queries evaluated at once, each in its own process (default 2)."),
    cors_origin: list[str] = typer.Option([], "--cors-origin", help="Origin allowed to read answers from a browser (repeatable; '*' for any). None by default."),
    token_env: str | None = typer.Option(None, "--token-env", help="Environment variable holding a bearer token every request must send."),
    verbose: bool = typer.Option(False, "--verbose", help="Log every request."),
) -> None:
    """Serve the embedded store as a read-only SPARQL 1.1 endpoint.

    Queries are screened (size, nesting, SERVICE), run in separate processes and stopped after
    --timeout or when their client disconnects. Defaults come from FINCRIME_HOME/security.json
    ("serve"); the options here override them.

    Example: fincrime serve-sparql --port 7878 --token-env SPARQL_TOKEN
    (then: curl -H "Authorization: Bearer $SPARQL_TOKEN" 'http://127.0.0.1:7878/sparql?query=ASK{}')
    """
    from fincrime.security.config import load_config
    from fincrime.stores.server import ServeOptions, make_server

    workspace = Workspace.from_env()
    options = ServeOptions.from_config(load_config(workspace.home))
    options.verbose = verbose
    if timeout is not None:
        options.timeout = timeout
    if workers is not None:
        options.workers = workers
    if cors_origin:
        options.cors_origins = tuple(cors_origin)
    if token_env:
        if not os.environ.get(token_env):
            raise InputError(f"--token-env {token_env}: the variable is not set (or empty)")
        options.token = os.environ[token_env]
    server = make_server(workspace.store_dir, host, port, job_id=job, options=options)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    auth = "bearer token required" if options.token else "no authentication"
    console_err.print(f"SPARQL endpoint (read-only): {server.url}  — timeout {options.timeout:g} s, "
                      f"{options.workers} evaluator(s), {auth} — Ctrl+C stops", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


def register(app: typer.Typer) -> None:
    app.command("query")(query)
    app.command("load")(load)
    app.command("serve-sparql")(serve_sparql)
