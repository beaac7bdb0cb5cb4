"""One generator run: plan, parties, transactions, ground truth, then commit the files."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from fincrime import __version__
from fincrime.errors import FincrimeError
from fincrime.generator.config import RESOLUTIONS, GeneratorConfig, ResolvedConfig
from fincrime.generator.groundtruth import ground_truth_text
from fincrime.generator.parties import PartyTable, build_party_table, name_width, party_batch
from fincrime.generator.randomness import Stream, stream_rng
from fincrime.generator.records import party_layout, render_parties, render_transactions
from fincrime.generator.sinks import BackgroundWriter, NTriplesSink, OutputSet, ParquetSink
from fincrime.generator.transactions import transaction_batch
from fincrime.generator.typologies import AmountRules, Plan, plan_attempts

#: ``progress(phase, done, total)`` with phase ``"parties"`` or ``"transactions"``
ProgressFn = Callable[[str, int, int], None]

PARTY_TRIPLES = 6
TRANSACTION_TRIPLES = 5


@dataclass
class FileReport:
    path: Path
    kind: str  # parties | transactions | ground-truth | metadata
    rows: int
    bytes: int


@dataclass
class GenerationReport:
    """What a run wrote; ``to_dict()`` is also saved as ``generation.json``."""

    out: Path
    seed: int
    profile: str
    format: str
    start: datetime
    end: datetime
    parties: int
    transactions: int
    suspicious_parties: int
    attempts: dict[str, int]
    injected_transactions: int
    triples: int
    text_bytes: int  # uncompressed N-Triples bytes (0 for parquet)
    seconds: float
    config: dict[str, Any]
    files: list[FileReport] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    @property
    def data_bytes(self) -> int:
        return sum(f.bytes for f in self.files if f.kind in ("parties", "transactions"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "generator": f"fincrime {__version__}",
            "seed": self.seed,
            "profile": self.profile,
            "format": self.format,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "counts": {
                "parties": self.parties,
                "transactions": self.transactions,
                "suspicious_parties": self.suspicious_parties,
                "triples": self.triples,
                "attempts": self.attempts,
                "injected_transactions": self.injected_transactions,
            },
            "config": self.config,
            "files": [{"name": f.path.name, "kind": f.kind, "rows": f.rows} for f in self.files],
        }


def _config_dict(rc: ResolvedConfig) -> dict[str, Any]:
    return {
        "transactions": rc.transactions,
        "parties": rc.parties,
        "suspicious_ratio": rc.suspicious_ratio,
        "days": rc.days,
        "end_date": rc.end.isoformat(),
        "files": rc.files,
        "seed": rc.seed,
        "format": rc.format,
        "profile": rc.profile,
        "typologies": ",".join(
            f"{r.name}={r.count}:{r.min_size}-{r.max_size}" for r in rc.typologies
        )
        or "none",
        "chain_suspicious_prob": rc.chain_suspicious_prob,
        "structuring_threshold": rc.structuring_threshold_cents / 100,
        "hop_margin": rc.hop_margin,
        "attempt_days": rc.attempt_days,
        "resolution": next(k for k, v in RESOLUTIONS.items() if v == rc.resolution),
    }


def _split(total: int, parts: int) -> list[tuple[int, int]]:
    return [(i * total // parts, (i + 1) * total // parts) for i in range(parts)]


def _chunks(start: int, stop: int, size: int) -> Iterator[tuple[int, int]]:
    # boundaries on global multiples of size, so files do not shift the work grid
    pos = start
    while pos < stop:
        nxt = min(stop, (pos // size + 1) * size)
        yield pos, nxt
        pos = nxt


def _suffix(fmt: str) -> str:
    return {"nt": ".nt", "nt.gz": ".nt.gz", "parquet": ".parquet"}[fmt]


def _open_sink(rc: ResolvedConfig, outputs: OutputSet, name: str, schema: Any) -> Any:
    path = outputs.partial(name)
    if rc.format == "parquet":
        return ParquetSink(path, schema)
    return NTriplesSink(path, name, rc.gzip_level if rc.format == "nt.gz" else None)


def _plan(rc: ResolvedConfig, whole_units: bool) -> Plan:
    return plan_attempts(
        stream_rng(rc.seed, Stream.TYPOLOGY),
        rc.typologies,
        parties=rc.parties,
        transactions=rc.transactions,
        window=rc.window,
        amounts=AmountRules(
            unit=100 if whole_units else 1,
            hop_margin=rc.hop_margin,
            threshold_cents=rc.structuring_threshold_cents,
        ),
        chain_suspicious_prob=rc.chain_suspicious_prob,
        attempt_days=rc.attempt_days,
        resolution=rc.resolution,
    )


def generate(config: GeneratorConfig, *, progress: ProgressFn | None = None) -> GenerationReport:
    """Generate a dataset as ``config`` says; see :mod:`fincrime.generator`."""
    began = time.perf_counter()
    rc = config.resolve()
    with _stopped_by_signals():
        return _generate(rc, began, progress)


class Terminated(FincrimeError):
    """The run was asked to stop (SIGTERM, SIGHUP): its partial files are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"generation stopped by {signal.Signals(signum).name}; no file was written")
        self.exit_code = 128 + signum


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end a run the way Ctrl-C does, so its partial files (gigabytes, for
    big runs) are deleted; after a SIGKILL the next run into the folder deletes them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _generate(rc: ResolvedConfig, began: float, progress: ProgressFn | None) -> GenerationReport:
    outputs = OutputSet(rc.out, overwrite=rc.overwrite)
    writer = BackgroundWriter()
    try:
        run = _Run(rc, outputs, writer, progress)
        report = run.execute()
        writer.close()
        meta = json.dumps(report.to_dict(), indent=2).encode() + b"\n"
        outputs.partial("generation.json").write_bytes(meta)
        report.files.append(FileReport(outputs.out / "generation.json", "metadata", 1, 0))
        outputs.commit()
    except BaseException:
        with contextlib.suppress(BaseException):  # the original error is the one to report
            writer.close()
        outputs.abort()
        raise
    for f in report.files:
        f.bytes = f.path.stat().st_size
    report.removed = outputs.removed
    report.seconds = time.perf_counter() - began
    return report


class _Run:
    """The steps of one run; writes go through the background writer in submission order."""

    def __init__(
        self,
        rc: ResolvedConfig,
        outputs: OutputSet,
        writer: BackgroundWriter,
        progress: ProgressFn | None,
    ) -> None:
        self.rc = rc
        self.outputs = outputs
        self.writer = writer
        self.progress = progress
        self.realistic = rc.profile == "realistic"
        self.files: list[FileReport] = []
        self.text_bytes = 0

    def execute(self) -> GenerationReport:
        rc = self.rc
        plan = _plan(rc, whole_units=not self.realistic)
        table = build_party_table(
            rc.seed,
            rc.parties,
            rc.suspicious_ratio,
            plan.forced_suspicious,
            realistic=self.realistic,
        )
        self._parties(table)
        self._transactions(table, plan)
        gt_nt, gt_csv = ground_truth_text(rc.seed, plan, table.ids, whole_units=not self.realistic)
        self._small_file("ground-truth.nt", gt_nt, gt_nt.count(b"\n"))
        self._small_file("ground-truth.csv", gt_csv, plan.transactions)
        return GenerationReport(
            out=rc.out,
            seed=rc.seed,
            profile=rc.profile,
            format=rc.format,
            start=rc.start,
            end=rc.end,
            parties=rc.parties,
            transactions=rc.transactions,
            suspicious_parties=int(table.suspicious.sum()),
            attempts=dict(Counter(plan.typology)),
            injected_transactions=plan.transactions,
            triples=PARTY_TRIPLES * rc.parties + TRANSACTION_TRIPLES * rc.transactions,
            text_bytes=self.text_bytes,
            seconds=0.0,
            config=_config_dict(rc),
            files=self.files,
        )

    def _small_file(self, name: str, payload: bytes, rows: int) -> None:
        self.writer.submit(self.outputs.partial(name).write_bytes, payload)
        self.files.append(FileReport(self.outputs.out / name, "ground-truth", rows, 0))

    def _stream(
        self,
        kind: str,
        total: int,
        schema: Any,
        make: Callable[[int, int], Any],
    ) -> None:
        """Write ``total`` rows split over ``--files`` files, chunk by chunk."""
        rc, done = self.rc, 0
        for i, (lo, hi) in enumerate(_split(total, rc.files)):
            name = f"{kind}-{i}{_suffix(rc.format)}"
            sink = _open_sink(rc, self.outputs, name, schema)
            for a, b in _chunks(lo, hi, rc.chunk_size):
                payload = make(a, b)
                if isinstance(payload, np.ndarray):
                    self.text_bytes += payload.nbytes
                self.writer.submit(sink.write, payload)
                done += b - a
                if self.progress:
                    self.progress(kind, done, total)
            self.writer.submit(sink.close)
            self.files.append(FileReport(self.outputs.out / name, kind, hi - lo, 0))

    def _parties(self, table: PartyTable) -> None:
        from fincrime.generator.tables import PARTY_SCHEMA, party_table

        layout = party_layout(name_width())

        def make(a: int, b: int) -> Any:
            batch = party_batch(self.rc.seed, table, a, b, realistic=self.realistic)
            return (
                party_table(batch) if self.rc.format == "parquet" else render_parties(batch, layout)
            )

        self._stream("parties", self.rc.parties, PARTY_SCHEMA, make)

    def _transactions(self, table: PartyTable, plan: Plan) -> None:
        from fincrime.generator.tables import TRANSACTION_SCHEMA, transaction_table

        rc = self.rc

        def make(a: int, b: int) -> Any:
            batch = transaction_batch(
                rc.seed, table, plan, a, b, rc.window, realistic=self.realistic,
                resolution=rc.resolution,
            )
            if rc.format == "parquet":
                return transaction_table(batch)
            return render_transactions(batch, whole_units=not self.realistic)

        self._stream("transactions", rc.transactions, TRANSACTION_SCHEMA, make)
