"""``fincrime reason`` and ``fincrime explain``: materialize rules over N-Triples data."""

from __future__ import annotations

import glob
import re
import shlex
import time
from pathlib import Path

import typer
from rich.table import Table

from fincrime.cli.common import console, console_err, parse_pairs, state
from fincrime.errors import InputError

DATA_SUFFIXES = (".nt", ".nt.gz")


def expand_data(items: list[str]) -> list[Path]:
    """Files, folders (their ``*.nt`` / ``*.nt.gz``) and globs, in a stable order."""
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.name.endswith(DATA_SUFFIXES))
            if not found:
                raise InputError(f"{item}: no *.nt or *.nt.gz files in this folder")
            out += found
        elif any(c in item for c in "*?["):
            found = sorted(Path(p) for p in glob.glob(item))
            if not found:
                raise InputError(f"{item}: no file matches")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(f"{item}: no such file")
    return out


def _load(rules: list[Path], prefix: list[str], param: list[str]):  # type: ignore[no-untyped-def]
    from fincrime.rules import load_program

    if not rules:
        raise InputError("give at least one --rules file")
    return load_program(rules, prefixes=parse_pairs(prefix, "prefix", empty_name=True), params=parse_pairs(param, "param"))


FORMATS = {"nt": ".nt", "nt.gz": ".nt.gz", "parquet": ".parquet"}


def _with_format(out: Path, out_format: str | None) -> Path:
    """The output path with the suffix of ``--format`` (which must agree with the one it has)."""
    if out_format is None:
        return out
    if out_format not in FORMATS:
        raise InputError(f"--format {out_format!r}: choose one of {', '.join(FORMATS)}")
    suffix = FORMATS[out_format]
    if out.name.endswith(suffix):
        return out
    if any(out.name.endswith(s) for s in FORMATS.values()):
        raise InputError(f"--out {out} does not match --format {out_format}")
    return out.with_name(out.name + suffix)


def _short(iri: str, prefixes: dict[str, str]) -> str:
    for name, ns in sorted(prefixes.items(), key=lambda kv: -len(kv[1])):
        if iri.startswith(ns) and ns:
            return f"{name}:{iri[len(ns):]}"
    return f"<{iri}>"


def reason(
    rules: list[Path] = typer.Option([], "--rules", "-r", help="Datalog rule file (repeatable)."),
    data: list[str] = typer.Option([], "--data", "-d", help="N-Triples file, .nt.gz, folder or glob (repeatable)."),
    out: Path | None = typer.Option(
        None, "--out", "-o",
        help="Write the derived triples here: .nt, .nt.gz (two threads, reproducible bytes) or a .parquet folder "
        "(one wide table per entity table, e.g. the chains, plus triples.parquet).",
    ),
    out_format: str | None = typer.Option(
        None, "--format", help="Output format when --out has no telling suffix: nt, nt.gz or parquet."),
    prefix: list[str] = typer.Option([], "--prefix", help="Prefix for rule files: name=IRI, or =IRI / :=IRI to replace the default ':' (repeatable)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Rule parameter: name=value (repeatable)."),
    engine: str = typer.Option("memory", "--engine", help="memory (default) or spark."),
    spark_master: str = typer.Option("local[*]", "--spark-master", help="Spark master URL (engine spark)."),
    partitions: int | None = typer.Option(None, "--partitions", help="Spark shuffle partitions (engine spark; default: from the input size)."),
    memory: str | None = typer.Option(None, "--memory", help="Spark memory, e.g. 8g: the driver's locally, each executor's on a cluster (default: from the machine)."),
    cores: int | None = typer.Option(None, "--cores", min=1, help="Spark executor cores on a cluster (engine spark)."),
    stats: bool = typer.Option(False, "--stats", help="Also show per-rule firing counts and time."),
    max_facts: int | None = typer.Option(None, "--max-facts", min=1,
                                         help="Stop when the program holds more facts (default 2 billion)."),
    timeout: float | None = typer.Option(None, "--timeout", min=0.001, help="Stop after this many seconds of reasoning."),
) -> None:
    """Materialize Datalog rules over N-Triples data and write the derived triples.

    Example: fincrime reason -r rules/suspicious-chains.dlog -r rules/high-value-chains.dlog
    -d input/demo --param highValueThreshold=50000 --out derived.parquet --stats
    """
    from fincrime.engine import materialize

    started = time.perf_counter()
    program = _load(rules, prefix, param)
    files = expand_data(data)
    if not files:
        raise InputError("give at least one --data file or folder")
    options = {"master": spark_master, "partitions": partitions, "debug": state.debug,
               **({"memory": memory} if memory else {}), **({"cores": cores} if cores else {}),
               **({"max_facts": max_facts} if max_facts else {}), **({"timeout": timeout} if timeout else {})}
    with console_err.status("reasoning…") as status:
        def progress(event: object) -> None:
            status.update(str(event))
            if engine == "spark" and getattr(event, "kind", None) == "note":  # settings, read rate: kept
                console_err.print(str(event))

        result = materialize(program, files, engine=engine, engine_options=options, progress=progress)
    timings = dict(result.timings)
    timings["rules"] = 0.0
    if out is not None:
        out = _with_format(out, out_format)
        n = result.write(out)
        console.print(f"wrote {n:,} derived triples to {out}")
    prefixes = {**program.prefixes}
    table = Table(title="derived facts", show_lines=False)
    table.add_column("class / predicate")
    table.add_column("count", justify="right")
    for cls, n in sorted(result.counts_by_class().items()):
        table.add_row(f"a {_short(cls, prefixes)}", f"{n:,}")
    for pred, n in sorted(result.counts_by_predicate().items()):
        if not pred.endswith("#type"):
            table.add_row(_short(pred, prefixes), f"{n:,}")
    console.print(table)
    phases = Table(title="phases")
    phases.add_column("phase")
    phases.add_column("seconds", justify="right")
    for name in ("parse", "load", "reason", "write"):
        if name in result.timings:
            phases.add_row(name, f"{result.timings[name]:.2f}")
    phases.add_row("total", f"{time.perf_counter() - started:.2f}")
    console.print(phases)
    if stats:
        rt = Table(title="rules")
        for col, just in (("rule", "left"), ("evaluations", "right"), ("matches", "right"), ("new facts", "right"), ("seconds", "right")):
            rt.add_column(col, justify=just)  # type: ignore[arg-type]
        for st in sorted(result.stats.rules.values(), key=lambda s: -s.seconds):
            rt.add_row(_compact(st.label, prefixes), f"{st.evaluations:,}", f"{st.fired:,}", f"{st.derived:,}", f"{st.seconds:.2f}")
        console.print(rt)


def explain_cmd(
    fact: str = typer.Argument(..., help='The fact, e.g. "<http://…/c1> a type:SuspiciousChain" (N-Triples terms or prefixed names).'),
    rules: list[Path] = typer.Option([], "--rules", "-r", help="Datalog rule file (repeatable)."),
    data: list[str] = typer.Option([], "--data", "-d", help="N-Triples file, folder or glob (repeatable)."),
    prefix: list[str] = typer.Option([], "--prefix", help="Prefix: name=IRI, or =IRI / :=IRI for ':' (repeatable)."),
    param: list[str] = typer.Option([], "--param", "-p", help="Rule parameter: name=value (repeatable)."),
    depth: int = typer.Option(2, "--depth", help="Levels of the derivation tree shown (deeper: slower, longer)."),
    limit: int = typer.Option(10, "--limit", help="Transactions listed, and children shown per tree node."),
) -> None:
    """Show why a derived fact holds: a summary (the rule; for a typology flag its alert's
    evidence and the transfers involved, largest first), then the derivation tree: the rule's
    body facts, recursively, cut at --depth levels and --limit children a node.

    Example: fincrime explain -r rules/typologies.dlog -d input/aml --depth 4 --limit 20
    "<http://oxfordsemantic.tech/transactions/entities#party_9f…> a type:FanInHub"
    """
    from fincrime.cli.explain_view import derivation_tree, print_summary, term_text
    from fincrime.engine import materialize
    from fincrime.engine.explain import explain

    if depth < 0 or limit < 1:
        raise InputError("--depth must be at least 0 and --limit at least 1")
    program = _load(rules, prefix, param)
    triple = parse_fact(fact, program.prefixes)
    with console_err.status("reasoning…"):
        result = materialize(program, expand_data(data))
    tree_root = explain(result, program, triple, max_depth=depth)
    prefixes = program.prefixes

    print_summary(console, result, tree_root, lambda t: term_text(t, prefixes), limit)
    console.print(f"[bold]derivation[/bold] [dim](depth {depth}, {limit} children a node; --depth / --limit for more)[/dim]")
    console.print(derivation_tree(tree_root, prefixes, limit))


def _compact(label: str, prefixes: dict[str, str]) -> str:
    """``file.dlog:12 [?c, a, type:X], …`` for a rule label full of IRIs."""
    where, _, heads = label.partition(" ")
    heads = re.sub(r"<([^>]*)>", lambda m: _short(m.group(1), prefixes), heads)
    heads = heads.replace("rdf:type", "a")
    text = f"{Path(where.rsplit(':', 1)[0]).name}:{where.rsplit(':', 1)[-1]} {heads}"
    return text if len(text) <= 90 else text[:89] + "…"


def _term_short(term: str, prefixes: dict[str, str]) -> str:
    if term.startswith("<") and term.endswith(">"):
        return _short(term[1:-1], prefixes)
    return term


def parse_fact(text: str, prefixes: dict[str, str]) -> tuple[str, str, str]:
    """Three terms: N-Triples terms, prefixed names or ``a``."""
    from fincrime.rdf.terms import iri
    from fincrime.vocab import RDF_TYPE

    try:
        parts = shlex.split(text.strip().rstrip(".").strip(), posix=False)
    except ValueError as exc:
        raise InputError(f"cannot read the fact {text!r}: {exc}") from exc
    if len(parts) != 3:
        raise InputError(f"a fact has three terms, got {len(parts)}: {text!r}")
    out = []
    for i, part in enumerate(parts):
        if part == "a" and i == 1:
            out.append(iri(RDF_TYPE))
        elif part.startswith(("<", '"', "_:")):
            out.append(part)
        elif ":" in part:
            name, _, local = part.partition(":")
            if name not in prefixes:
                raise InputError(f"unknown prefix {name!r} in {part!r}")
            out.append(iri(prefixes[name] + local))
        else:
            raise InputError(f"not a term: {part!r}")
    return out[0], out[1], out[2]


def register(app: typer.Typer) -> None:
    app.command("reason")(reason)
    app.command("explain")(explain_cmd)

