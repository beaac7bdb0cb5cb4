"""Benchmark fincrime's rule engine against DuckDB and Nemo on the suspicious-chain rules.

One run does everything it compares, on the same data, each engine in its own process so
peak memory (``ru_maxrss`` of that process) is its own:

1. generates the dataset with the project's generator (original profile, fixed seed and end
   date, ``nt.gz``) under ``bench/data/reason/``, or reuses one a ``--keep-data`` run left there;
2. fincrime: ``load_program(rules/suspicious-chains.dlog)`` + ``materialize`` (N-Triples read,
   load, reasoning), then, as a separate phase, ``write_ntriples`` of the derived triples;
3. DuckDB: the chain search as one recursive CTE, the way a data engineer who wants no rule
   engine writes it (:data:`DUCKDB_CHAINS`), over the generator's Parquet tables of the same
   graph (same seed and settings), then ``COPY`` of the chains to Parquet;
4. Nemo (``nemo-python``): ``bench/nemo/chains.rls``, the same semantics, importing the same
   ``.nt.gz`` files itself;
5. a plain-Python depth-first walk that only counts the chains (second baseline).

fincrime's write phase writes the compact form (a Parquet table set, ``--write-format nt`` for
N-Triples), so it compares with DuckDB's COPY of the same chains.

The partial and suspicious chain counts of all engines must agree, or the run fails (exit 1).
The table gives each engine's phases, total, peak RSS and its time relative to Nemo.

    .venv/bin/python bench/reason.py                                  # full size: 200k / 20k
    .venv/bin/python bench/reason.py --transactions 20k --parties 2k  # quick check
    .venv/bin/python bench/reason.py --no-python-baseline --repeat 2 --keep-data
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules" / "suspicious-chains.dlog"
NEMO_PROGRAM = ROOT / "bench" / "nemo" / "chains.rls"
DATA_ROOT = ROOT / "bench" / "data" / "reason"
CLASSES = "http://oxfordsemantic.tech/transactions/classes#"
PROPS = "http://oxfordsemantic.tech/transactions/properties#"
#: the worker's answer is the one stdout line with this prefix (Nemo prints to stdout too)
RESULT_TAG = "BENCH-RESULT "
ENGINES = ("fincrime", "duckdb", "nemo", "python")
BASE = "http://oxfordsemantic.tech/transactions/"
ENTITIES = BASE + "entities#"

#: The chains as a data engineer writes them: each chain row carries everything the rules'
#: chain nodes carry (IRI minted like the rules: MD5 of "PartialChain" + parent + transaction).
DUCKDB_CHAINS = """
CREATE TABLE chains AS
WITH RECURSIVE chain(c, parent, originator, beneficiary, len, start_date, end_date,
                     start_amount, final_amount, min_amount, first_tx, last_tx) AS (
  SELECT '{base}' || md5('PartialChain' || t), NULL::VARCHAR, o, b, 1, d, d, a, a, a, t, t
  FROM tx WHERE o IN (SELECT p FROM suspicious)
  UNION ALL
  SELECT '{base}' || md5('PartialChain' || chain.c || tx.t), chain.c, chain.originator, tx.b,
         chain.len + 1, chain.start_date, tx.d, chain.start_amount, tx.a,
         least(chain.min_amount, tx.a), chain.first_tx, tx.t
  FROM chain JOIN tx ON tx.o = chain.beneficiary AND tx.d > chain.end_date
  WHERE chain.len < {max_length}
)
SELECT * FROM chain
"""

# Workers import only what their engine needs (fincrime and polars stay out of the Nemo
# process), so every import below that is not in the standard library happens inside a function.


@dataclass(frozen=True)
class DatasetSpec:
    """What the benchmark generates; the directory name encodes it so runs can reuse it."""

    transactions: int
    parties: int
    suspicious_ratio: float
    seed: int
    end_date: str

    @property
    def path(self) -> Path:
        return DATA_ROOT / (
            f"t{self.transactions}-p{self.parties}-r{self.suspicious_ratio:g}-s{self.seed}-{self.end_date}"
        )

    def config(self, overwrite: bool) -> Any:
        from fincrime.generator import GeneratorConfig

        return GeneratorConfig(
            out=self.path, transactions=self.transactions, parties=self.parties,
            suspicious_ratio=self.suspicious_ratio, seed=self.seed, end_date=self.end_date,
            profile="original", format="nt.gz", files=1, overwrite=overwrite,
        )

    @property
    def parquet_path(self) -> Path:
        return self.path.with_name(self.path.name + "-parquet")

    def parquet_config(self, overwrite: bool) -> Any:
        from dataclasses import replace

        return replace(self.config(overwrite), out=self.parquet_path, format="parquet")

    def parquet_files(self) -> list[Path]:
        return [self.parquet_path / "parties-0.parquet", self.parquet_path / "transactions-0.parquet"]

    def files(self) -> list[Path]:
        """The generated N-Triples inputs; both engines read these same files."""
        return [self.path / "parties-0.nt.gz", self.path / "transactions-0.nt.gz"]

    def is_present(self) -> bool:
        """True when a complete dataset with these exact settings is on disk."""
        meta = self.path / "generation.json"
        if not meta.is_file() or not all(f.is_file() for f in self.files()):
            return False
        try:
            config = json.loads(meta.read_text())["config"]
        except (ValueError, KeyError):
            return False
        wanted = {
            "transactions": self.transactions, "parties": self.parties,
            "suspicious_ratio": self.suspicious_ratio, "seed": self.seed, "profile": "original",
            "format": "nt.gz", "files": 1, "typologies": "none",
        }
        return all(config.get(k) == v for k, v in wanted.items()) and str(
            config.get("end_date", "")
        ).startswith(self.end_date)


# ---------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one tagged JSON line.


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _say(message: str) -> None:
    """Progress for the parent's status line (stderr, one line a message)."""
    print(message, file=sys.stderr, flush=True)


def work_fincrime(spec: DatasetSpec, max_length: int, write_dir: Path | None, write_format: str = "parquet") -> dict[str, Any]:
    """fincrime's in-memory engine on the project's chain rules, then the write phase.

    The figures are reported once reasoning is done, before writing, so a write phase that the
    memory guard kills still leaves the reasoning figures (the last report wins).
    """
    from fincrime.engine import materialize
    from fincrime.rules import load_program

    began = time.perf_counter()
    program = load_program([RULES], params={"maxChainLength": max_length})
    rules_s = time.perf_counter() - began
    _say("fincrime: reading N-Triples and reasoning")
    result = materialize(program, spec.files(), progress=_say)
    classes = result.counts_by_class()
    out: dict[str, Any] = {
        "phases": {
            "rules": rules_s,
            "read": result.timings["parse"],
            "load": result.timings["load"],
            "reason": result.timings["reason"],
        },
        "partial": classes.get(CLASSES + "PartialChain", 0),
        "suspicious": classes.get(CLASSES + "SuspiciousChain", 0),
        "rss_reason_mb": _peak_rss_mb(),
    }
    out["total"] = sum(out["phases"].values())
    out["rss_peak_mb"] = out["rss_reason_mb"]
    if write_dir is not None:
        _report(dict(out, write_started=True))
        _say("fincrime: writing the derived triples")
        target = write_dir / f"derived.{write_format}"
        out["write_triples"] = result.write(target)
        out["write_bytes"] = _size_of(target)
        out["write_format"] = write_format
        shutil.rmtree(target) if target.is_dir() else target.unlink()
        out["phases"]["write"] = result.timings["write"]
        out["rss_peak_mb"] = _peak_rss_mb()
    return out


def _size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*")) if path.is_dir() else path.stat().st_size


def work_duckdb(spec: DatasetSpec, max_length: int, write_dir: Path | None) -> dict[str, Any]:
    """DuckDB's recursive CTE over the generator's Parquet tables, all cores; then COPY."""
    try:
        import duckdb
    except ImportError:
        raise SystemExit("duckdb is not installed: .venv/bin/pip install -e '.[bench]' (or --skip-duckdb)") from None
    parties, transactions = spec.parquet_files()
    con = duckdb.connect(config={"threads": os.cpu_count() or 1})
    _say("duckdb: reading Parquet")
    began = time.perf_counter()
    con.execute(
        f"CREATE TABLE tx AS SELECT '{ENTITIES}' || id AS t, '{ENTITIES}' || originator AS o, "
        f"'{ENTITIES}' || beneficiary AS b, amount AS a, date AS d FROM read_parquet('{transactions}')"
    )
    con.execute(f"CREATE TABLE suspicious AS SELECT '{ENTITIES}' || id AS p FROM read_parquet('{parties}') WHERE is_suspicious")
    read_s = time.perf_counter() - began
    _say("duckdb: recursive CTE")
    began = time.perf_counter()
    con.execute(DUCKDB_CHAINS.format(base=BASE, max_length=max_length))
    reason_s = time.perf_counter() - began
    partial, suspicious = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE beneficiary IN (SELECT p FROM suspicious)) FROM chains"
    ).fetchone()
    out: dict[str, Any] = {"phases": {"read": read_s, "reason": reason_s}, "partial": partial, "suspicious": suspicious}
    out["total"] = read_s + reason_s
    out["rss_reason_mb"] = _peak_rss_mb()
    if write_dir is not None:
        target = write_dir / "chains.parquet"
        began = time.perf_counter()
        con.execute(f"COPY chains TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        out["phases"]["write"] = time.perf_counter() - began
        out["write_bytes"] = _size_of(target)
        out["write_triples"] = partial
    out["rss_peak_mb"] = _peak_rss_mb()
    return out


def _import_only_program() -> str:
    """The chain program's own @import lines plus a count per imported predicate."""
    lines = [ln for ln in NEMO_PROGRAM.read_text(encoding="utf-8").splitlines() if ln.startswith("@import ")]
    names = [ln.split()[1] for ln in lines]
    counts = [f"{name}Triples(#count(?s, ?p, ?o)) :- {name}(?s, ?p, ?o) ." for name in names]
    return "\n".join(lines + counts) + "\n"


def nemo_source(max_length: int) -> str:
    """The Nemo program with ``$maxChainLength`` set (nmo_python takes no parameters)."""
    text = NEMO_PROGRAM.read_text(encoding="utf-8")
    declaration = re.compile(r"^@parameter \$maxChainLength = \d+ \.$", re.MULTILINE)
    if len(declaration.findall(text)) != 1:
        raise SystemExit(f"{NEMO_PROGRAM}: expected one '@parameter $maxChainLength = N .' line")
    return declaration.sub(f"@parameter $maxChainLength = {max_length} .", text)


def _nemo_count(engine: Any, predicate: str) -> int:
    rows = list(engine.result(predicate))
    return int(rows[0][0]) if rows else 0


def work_nemo(spec: DatasetSpec, max_length: int) -> dict[str, Any]:
    """Nemo on bench/nemo/chains.rls; it imports the .nt.gz files (relative to the data dir)."""
    try:
        import nmo_python
    except ImportError:
        raise SystemExit(
            "nemo-python is not installed: .venv/bin/pip install -e '.[bench]' (or --skip-nemo)"
        ) from None
    os.chdir(spec.path)  # the program names its inputs relative to the working directory
    import_only = _import_only_program()
    began = time.perf_counter()
    program = nmo_python.load_string(nemo_source(max_length))
    engine = nmo_python.NemoEngine(program)
    rules_s = time.perf_counter() - began
    _say("nemo: importing N-Triples and reasoning")
    began = time.perf_counter()
    engine.reason()
    reason_wall = time.perf_counter() - began
    out: dict[str, Any] = {
        "total": rules_s + reason_wall,
        "partial": _nemo_count(engine, "partialChainCount"),
        "suspicious": _nemo_count(engine, "suspiciousChainCount"),
        "rss_reason_mb": _peak_rss_mb(),
    }
    del engine
    # Nemo imports inside reason(), and its "Load Table" timer also covers building its
    # in-memory tables, so the import alone is timed by a second engine that only imports
    # and counts the triples; it runs after the real one so the peak RSS above is untouched.
    _say("nemo: timing the import alone")
    began = time.perf_counter()
    importer = nmo_python.NemoEngine(nmo_python.load_string(import_only))
    importer.reason()
    read_s = time.perf_counter() - began
    out["triples"] = _nemo_count(importer, "partyTriples") + _nemo_count(importer, "transactionTriples")
    out["phases"] = {"rules": rules_s, "read": read_s, "reason": max(reason_wall - read_s, 0.0)}
    out["rss_peak_mb"] = _peak_rss_mb()
    return out


def load_transfers(files: list[Path]) -> tuple[dict[int, tuple[list[int], list[int]]], set[int], list[tuple[int, int]]]:
    """Transfers as plain Python structures for the walk.

    Returns ``(outgoing, suspicious, starts)``: per payer, its payments' dates (epoch seconds,
    sorted) and beneficiaries (party numbers) in that order; the suspicious party numbers; and
    ``(beneficiary, date)`` of every transfer paid by a suspicious party.
    """
    import polars as pl

    from fincrime.rdf import read_ntriples

    triples = read_ntriples(files)
    wanted = {f"<{PROPS}{n}>": n for n in ("hasOriginator", "hasBeneficiary", "hasDate")}
    tx = (
        triples.filter(pl.col("p").is_in(list(wanted)))
        .with_columns(pl.col("p").replace_strict(wanted))
        .pivot(on="p", index="s", values="o")
    )
    dates = tx["hasDate"].str.extract(r'^"([^"]*)"', 1).str.to_datetime("%Y-%m-%dT%H:%M:%S")
    tx = tx.with_columns(date=dates.dt.epoch("s")).sort("date")
    true_flag = '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>'
    flagged = triples.filter((pl.col("p") == f"<{PROPS}isSuspicious>") & (pl.col("o") == true_flag))
    names = pl.concat([tx["hasOriginator"], tx["hasBeneficiary"], flagged["s"]]).unique()
    number = {name: i for i, name in enumerate(names.to_list())}
    outgoing: dict[int, tuple[list[int], list[int]]] = {}
    suspicious = {number[s] for s in flagged["s"].to_list()}
    starts: list[tuple[int, int]] = []
    for payer, payee, date in zip(
        tx["hasOriginator"].to_list(), tx["hasBeneficiary"].to_list(), tx["date"].to_list(), strict=True
    ):
        o, b = number[payer], number[payee]
        entry = outgoing.setdefault(o, ([], []))
        entry[0].append(date)
        entry[1].append(b)
        if o in suspicious:
            starts.append((b, date))
    return outgoing, suspicious, starts


def count_chains(
    outgoing: dict[int, tuple[list[int], list[int]]],
    suspicious: set[int],
    starts: list[tuple[int, int]],
    max_length: int,
) -> tuple[int, int]:
    """Depth-first count of time-ordered chains: ``(partial, ending at a suspicious party)``.

    >>> count_chains({1: ([5, 9], [2, 3])}, {0, 3}, [(1, 4)], 30)
    (3, 1)
    """
    from bisect import bisect_right

    partial = ending = 0
    stack = [(b, d, 1) for b, d in starts]
    empty: tuple[list[int], list[int]] = ([], [])
    while stack:
        party, date, length = stack.pop()
        partial += 1
        if party in suspicious:
            ending += 1
        if length < max_length:
            dates, payees = outgoing.get(party, empty)
            step = length + 1
            for i in range(bisect_right(dates, date), len(dates)):
                stack.append((payees[i], dates[i], step))
    return partial, ending


def work_python(spec: DatasetSpec, max_length: int) -> dict[str, Any]:
    """The plain-Python baseline: read with the project's reader, then walk and count."""
    _say("python: reading N-Triples")
    began = time.perf_counter()
    outgoing, suspicious, starts = load_transfers(spec.files())
    read_s = time.perf_counter() - began
    _say("python: walking the chains")
    began = time.perf_counter()
    partial, ending = count_chains(outgoing, suspicious, starts, max_length)
    walk_s = time.perf_counter() - began
    out = {
        "phases": {"read": read_s, "reason": walk_s},
        "total": read_s + walk_s,
        "partial": partial,
        "suspicious": ending,
    }
    out["rss_reason_mb"] = out["rss_peak_mb"] = _peak_rss_mb()
    return out


def _report(result: dict[str, Any]) -> None:
    print(RESULT_TAG + json.dumps(result), flush=True)


def worker_main(engine: str, spec: DatasetSpec, max_length: int, write_dir: Path | None, write_format: str) -> None:
    if engine == "fincrime":
        result = work_fincrime(spec, max_length, write_dir, write_format)
    elif engine == "duckdb":
        result = work_duckdb(spec, max_length, write_dir)
    elif engine == "nemo":
        result = work_nemo(spec, max_length)
    else:
        result = work_python(spec, max_length)
    _report(result)


# ---------------------------------------------------------------------------------------------
# Parent: dataset, one subprocess per engine run, the table.


def _rss_mb(pid: int) -> float:
    """Current resident set size of a process, in MB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemoryGuard(threading.Thread):
    """Kills one worker process if its RSS passes ``limit_mb`` (the machine is shared)."""

    def __init__(self, proc: subprocess.Popen[str], limit_mb: float) -> None:
        super().__init__(daemon=True)
        self.proc, self.limit_mb = proc, limit_mb
        self.tripped_at_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            rss = _rss_mb(self.proc.pid)
            if rss > self.limit_mb:
                self.tripped_at_mb = rss
                self.proc.kill()
                return


def run_worker(
    engine: str, spec: DatasetSpec, max_length: int, write: bool, limit_mb: float,
    on_line: Callable[[str], None], write_format: str = "parquet",
) -> dict[str, Any]:
    """Run one engine in a fresh interpreter; its stderr lines go to ``on_line``.

    A worker whose RSS passes ``limit_mb`` is killed: the result then has ``exceeded`` set and
    no counts, unless reasoning had finished and only fincrime's write was cut short, in which
    case it keeps the reasoning figures and has ``write_killed`` set.
    """
    command = [
        sys.executable, str(Path(__file__).resolve()), "--worker", engine,
        "--transactions", str(spec.transactions), "--parties", str(spec.parties),
        "--suspicious-ratio", repr(spec.suspicious_ratio), "--seed", str(spec.seed),
        "--end-date", spec.end_date, "--max-length", str(max_length), "--write-format", write_format,
    ]
    env = dict(os.environ, RUST_BACKTRACE="0", PYTHONPATH=str(ROOT))
    tail: deque[str] = deque(maxlen=20)
    began = time.perf_counter()
    # the write phase's file lives in a directory made (and always removed) here, so a worker
    # killed mid-write leaves nothing behind
    with tempfile.TemporaryDirectory(prefix="fincrime-bench-") as write_dir, tempfile.TemporaryFile(
        "w+"
    ) as stdout_file:
        if write:
            command += ["--write-dir", write_dir]
        # stdout goes to a file so a chatty engine can never fill a pipe nobody reads yet
        with subprocess.Popen(
            command, stdout=stdout_file, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
        ) as proc:
            guard = MemoryGuard(proc, limit_mb)
            guard.start()
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.rstrip())
                on_line(tail[-1])
            code = proc.wait()
            guard.done.set()
        stdout_file.seek(0)
        stdout = stdout_file.read()
    wall = time.perf_counter() - began
    found = [json.loads(ln[len(RESULT_TAG):]) for ln in stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if guard.tripped_at_mb:
        if found and found[-1].get("write_started"):
            return dict(found[-1], wall=wall, write_killed=True, rss_peak_mb=guard.tripped_at_mb,
                        write_seconds_before_kill=wall - found[-1]["total"])
        return {
            "exceeded": True, "phases": {}, "total": wall, "wall": wall,
            "rss_reason_mb": guard.tripped_at_mb, "rss_peak_mb": guard.tripped_at_mb,
            "last_message": tail[-1] if tail else "",
        }
    if code != 0 or not found:
        details = "\n".join([*tail, *stdout.splitlines()[-5:]])
        raise RuntimeError(f"{engine} worker failed (exit {code}):\n{details}")
    result: dict[str, Any] = found[-1]
    result["wall"] = wall
    return result


def ensure_dataset(spec: DatasetSpec, console: Any) -> tuple[bool, float]:
    """Generate the dataset unless an identical one is on disk; ``(generated, seconds)``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from fincrime.generator import generate

    parquet_ready = all(f.is_file() for f in spec.parquet_files())
    if spec.is_present() and parquet_ready:
        console.print(f"reusing {spec.path.relative_to(ROOT)}")
        return False, 0.0
    began = time.perf_counter()
    with Progress(
        TextColumn("generating {task.description}"), BarColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as bar:
        task = bar.add_task(f"{spec.transactions:,} transactions", total=None)

        def tick(phase: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        generate(spec.config(overwrite=True), progress=tick)
        generate(spec.parquet_config(overwrite=True), progress=tick)  # the same graph, for DuckDB
    seconds = time.perf_counter() - began
    console.print(f"generated {spec.path.relative_to(ROOT)} in {seconds:.1f}s")
    return True, seconds


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs, with the highest peak RSS seen over all of them."""
    completed = [r for r in runs if not r.get("exceeded")] or runs
    chosen = dict(min(completed, key=lambda r: r["total"]))
    chosen["rss_reason_mb"] = max(r["rss_reason_mb"] for r in runs)
    chosen["rss_peak_mb"] = max(r["rss_peak_mb"] for r in runs)
    return chosen


def render(results: dict[str, dict[str, Any]], console: Any) -> None:
    from rich.table import Table

    def sec(value: float | None) -> str:
        return "" if value is None else f"{value:.2f}"

    nemo = results.get("nemo")
    duck = results.get("duckdb")
    fin = results.get("fincrime")
    table = Table(title="suspicious chains: fincrime vs DuckDB and Nemo (seconds; best of the repeats)")
    for header in ("engine", "rules", "read data", "load", "reasoning", "total", "vs DuckDB", "vs Nemo",
                   "write", "write vs DuckDB", "peak RSS MB", "partial chains", "suspicious"):
        table.add_column(header, justify="left" if header == "engine" else "right")
    labels = {"fincrime": "fincrime (memory)", "duckdb": "DuckDB recursive CTE", "nemo": "Nemo",
              "python": "Python DFS (count only)"}
    for engine, r in results.items():
        if r.get("exceeded"):
            table.add_row(
                labels[engine], "", "", "", f"killed after {r['total']:.0f}s", "", "", "", "", "",
                f"> {r['rss_peak_mb']:,.0f} (limit)", "?", "?",
            )
            continue
        ph = r["phases"]
        ratio = f"{r['total'] / nemo['total']:.2f}x" if nemo and not nemo.get("exceeded") else ""
        duck_ok = duck and not duck.get("exceeded")
        vs_duck = f"{r['total'] / duck['total']:.2f}x" if duck_ok else ""
        write_vs = (f"{ph['write'] / duck['phases']['write']:.2f}x"
                    if duck_ok and "write" in ph and "write" in duck["phases"] else "")
        rss = f"{r['rss_reason_mb']:,.0f}"
        if r.get("write_killed"):
            rss += f" (> {r['rss_peak_mb']:,.0f} in write: killed)"
        elif r["rss_peak_mb"] > r["rss_reason_mb"] + 1:
            rss += f" ({r['rss_peak_mb']:,.0f} w/ write)"
        write_cell = (
            f"killed ~{r['write_seconds_before_kill']:.0f}s in" if r.get("write_killed")
            else sec(ph.get("write"))
        )
        table.add_row(
            labels[engine], sec(ph.get("rules")), sec(ph.get("read")), sec(ph.get("load")),
            sec(ph.get("reason")), sec(r["total"]), vs_duck, ratio, write_cell, write_vs, rss,
            f"{r['partial']:,}", f"{r['suspicious']:,}",
        )
    console.print(table)
    fin = fin if fin and not fin.get("exceeded") else None
    nemo = nemo if nemo and not nemo.get("exceeded") else None
    if fin and "write_bytes" in fin:
        console.print(
            f"fincrime write phase: {fin['write_triples']:,} derived triples, "
            f"{fin['write_bytes'] / 1e6:,.0f} MB ({fin.get('write_format', 'nt')}) in {fin['phases']['write']:.2f}s"
        )
    duck = duck if duck and not duck.get("exceeded") else None
    if fin and duck:
        console.print(
            f"ratio fincrime/DuckDB: total {fin['total'] / duck['total']:.2f}  "
            f"(read + load + reasoning; goal <= 1.0)"
        )
    if fin and nemo:
        # without reading N-Triples: fincrime's dictionary load counts as reasoning, as Nemo's
        # own table building does
        fin_reason = fin["phases"]["load"] + fin["phases"]["reason"]
        console.print(
            f"ratio fincrime/Nemo: total {fin['total'] / nemo['total']:.2f}  "
            f"(without reading the data {fin_reason / nemo['phases']['reason']:.2f})  "
            "goal < 1, aiming at 0.5"
        )


def check_counts(results: dict[str, dict[str, Any]]) -> list[str]:
    """Disagreements between engines, as messages (empty when all agree)."""
    problems = [
        f"{engine} was killed at {r['rss_peak_mb']:,.0f} MB RSS (--max-rss-gb), "
        f"{r['total']:.0f}s in, last said: {r['last_message']!r}"
        for engine, r in results.items() if r.get("exceeded")
    ] + [
        f"{engine}'s write phase was killed at {r['rss_peak_mb']:,.0f} MB RSS (--max-rss-gb); "
        "its reasoning figures and counts stand"
        for engine, r in results.items() if r.get("write_killed")
    ]
    results = {e: r for e, r in results.items() if not r.get("exceeded")}
    if not results:
        return problems
    reference = next(iter(results))
    for engine, r in results.items():
        for key in ("partial", "suspicious"):
            if r[key] != results[reference][key]:
                problems.append(
                    f"{key} chains differ: {reference} {results[reference][key]:,} vs {engine} {r[key]:,}"
                )
    return problems


def machine_facts() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def ver(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "absent"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "fincrime/engine", "fincrime/rules", "fincrime/rdf")
    source = git("rev-parse", "--short", "HEAD") + (" + uncommitted engine changes" if dirty else "")
    return (
        f"{os.cpu_count()} cores, commit {source}, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"polars {ver('polars')}, duckdb {ver('duckdb')}, nemo-python {ver('nemo-python')}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def _count(text: str, option: str) -> int:
    """``200000``, ``200k``, ``1M`` -> int; plain digits need no import (workers stay lean)."""
    if text.isdigit():
        return int(text)
    from fincrime.errors import InputError
    from fincrime.generator.config import parse_count

    try:
        return parse_count(text, option)
    except InputError as exc:
        raise ValueError(str(exc)) from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--transactions", default="200k", help="transactions generated (200k)")
    parser.add_argument("--parties", default="20k", help="parties generated (20k)")
    parser.add_argument("--suspicious-ratio", type=float, default=0.01, help="share of suspicious parties (0.01)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (7)")
    parser.add_argument("--end-date", default="2024-06-30", help="end of the generated period (2024-06-30)")
    parser.add_argument("--max-length", type=int, default=30, help="maxChainLength, in transactions (30)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per engine, best reported (1)")
    parser.add_argument("--skip-nemo", action="store_true", help="do not run Nemo")
    parser.add_argument("--skip-duckdb", action="store_true", help="do not run DuckDB")
    parser.add_argument("--write-format", choices=("parquet", "nt", "nt.gz"), default="parquet",
                        help="fincrime's write phase (parquet: the compact table set)")
    parser.add_argument("--no-python-baseline", action="store_true", help="skip the plain-Python walk")
    parser.add_argument("--no-write", action="store_true", help="skip fincrime's write phase")
    parser.add_argument("--keep-data", action="store_true",
                        help="keep the generated dataset under bench/data/reason for later runs")
    parser.add_argument("--max-rss-gb", type=float, default=14.0,
                        help="kill an engine whose RSS passes this (14; the machine is shared)")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--write-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.transactions = _count(args.transactions, "--transactions")
        args.parties = _count(args.parties, "--parties")
    except ValueError as exc:
        parser.error(str(exc))
    if args.max_length < 1:
        parser.error("--max-length must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))
    args = parse_args(argv)
    spec = DatasetSpec(args.transactions, args.parties, args.suspicious_ratio, args.seed, args.end_date)
    if args.worker:
        worker_main(args.worker, spec, args.max_length, args.write_dir, args.write_format)
        return 0

    from rich.console import Console

    # rich assumes 80 columns when not on a terminal: too narrow for the table in a log
    console = Console(width=None if sys.stdout.isatty() else 150)
    console.print(f"machine: {machine_facts()}")
    from fincrime.errors import InputError

    try:
        spec.config(overwrite=True).resolve()  # bad settings fail here, naming the option
    except InputError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    generated, _ = ensure_dataset(spec, console)
    engines = ["fincrime"]
    if not args.skip_duckdb:
        engines.append("duckdb")
    if not args.skip_nemo:
        engines.append("nemo")
    if not args.no_python_baseline:
        engines.append("python")
    runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
    try:
        for round_no in range(args.repeat):
            for engine in engines:
                label = f"[{round_no + 1}/{args.repeat}] {engine}"
                with console.status(f"{label}: starting") as status:
                    result = run_worker(
                        engine, spec, args.max_length, not args.no_write, args.max_rss_gb * 1024,
                        lambda line, label=label, status=status: status.update(f"{label}: {line[:100]}"),
                        args.write_format,
                    )
                runs[engine].append(result)
                if result.get("write_killed"):
                    console.print(f"[red]{label}: write phase killed at {result['rss_peak_mb']:,.0f} MB RSS[/red]")
                if result.get("exceeded"):
                    console.print(
                        f"[red]{label}: killed at {result['rss_peak_mb']:,.0f} MB RSS after "
                        f"{result['total']:.0f}s[/red] (last: {result['last_message']})"
                    )
                    continue
                console.print(
                    f"{label}: {result['total']:.2f}s, {result['partial']:,} partial / "
                    f"{result['suspicious']:,} suspicious chains, peak RSS {result['rss_peak_mb']:,.0f} MB"
                )
    except RuntimeError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    finally:
        if generated and not args.keep_data:
            shutil.rmtree(spec.path, ignore_errors=True)
            shutil.rmtree(spec.parquet_path, ignore_errors=True)
    results = {engine: best(r) for engine, r in runs.items()}
    render(results, console)
    console.print(f"load average after the run: {os.getloadavg()[0]:.1f}")
    problems = check_counts(results)
    for problem in problems:
        console.print(f"[red bold]FAILED:[/red bold] {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
