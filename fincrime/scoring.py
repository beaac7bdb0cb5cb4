"""Score typology findings against ground truth: one module for ``fincrime score`` and the report.

Ground truth is the generator's (and the importers') vocabulary (docs/ARCHITECTURE.md): one
``type:LaunderingAttempt`` node per attempt with ``prop:hasTypology``, ``prop:involvesTransaction``
and ``prop:involvesParty``; ``ground-truth.csv`` (attempt, typology, ..., transaction, originator,
beneficiary, ...) is read too.

A finding class is matched to a typology by its name (``type:FanInHub`` -> ``fan_in``). Per
typology, over every class that detects it:

* **attempts**: attempts of that typology; **found**: those with at least one flagged party or
  transaction (a hub detector flags the hub, not every spoke); **recall** = found / attempts;
* **flagged**: distinct flagged parties and transactions; **correct**: those that take part in an
  attempt of that typology; **precision** = correct / flagged; **F1** their harmonic mean.

One more row, ``no attempt``, counts the flagged entities (of any typology class) that take part
in no attempt at all. :meth:`Scorecard.to_json` is the documented JSON shape of
``fincrime score --json``::

    {"ground_truth": {"attempts": 60, "sources": ["…/ground-truth.nt"]},
     "typologies": [{"typology": "fan_in", "classes": ["…#FanInHub"], "attempts": 10,
                     "found": 10, "recall": 1.0, "flagged": 11, "correct": 10,
                     "precision": 0.909, "f1": 0.952}, …],
     "no_attempt": {"flagged": 3, "by_class": {"…#FanInHub": 1, …}},
     "totals": {"attempts": 60, "found": 58, "recall": 0.967, "flagged": 120, "correct": 110,
                "precision": 0.917, "f1": 0.941}}

Rates are ``null`` when undefined (no attempts, nothing flagged).
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fincrime.errors import InputError
from fincrime.vocab import ENT, PROP, RDF_TYPE, TYPE, TYPOLOGIES

LAUNDERING_ATTEMPT = TYPE + "LaunderingAttempt"
HAS_TYPOLOGY = PROP + "hasTypology"
INVOLVES_TRANSACTION = PROP + "involvesTransaction"
INVOLVES_PARTY = PROP + "involvesParty"
TRUTH_PREDICATES = (HAS_TYPOLOGY, INVOLVES_TRANSACTION, INVOLVES_PARTY)


@dataclass(frozen=True)
class Attempt:
    """One laundering attempt of the ground truth."""

    iri: str
    typology: str
    transactions: frozenset[str]
    parties: frozenset[str]

    @property
    def entities(self) -> frozenset[str]:
        return self.transactions | self.parties


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def local_name(iri: str) -> str:
    s = iri.rstrip("/#")
    return s[max(s.rfind("#"), s.rfind("/")) + 1 :] or iri


def typology_of(class_iri: str, typologies: Iterable[str] = TYPOLOGIES) -> str | None:
    """The typology a finding class detects, judged by its name (longest match wins).

    >>> typology_of("http://oxfordsemantic.tech/transactions/classes#FanInHub")
    'fan_in'
    >>> typology_of("urn:x#GatherScatterHub")
    'gather_scatter'
    >>> typology_of("urn:x#TypologyAlert") is None
    True
    """
    name = _norm(local_name(class_iri))
    hits = [t for t in typologies if _norm(t) and _norm(t) in name]
    return max(hits, key=lambda t: len(_norm(t))) if hits else None


@dataclass
class FalseCase:
    iri: str
    other_typologies: list[str]  # typologies of the attempts it does take part in


@dataclass
class TypologyScore:
    """How the classes detecting one typology do on its attempts."""

    typology: str
    classes: list[str]
    attempts: int
    found: int
    flagged: int
    correct: int
    missed: list[Attempt] = field(default_factory=list)
    false: list[FalseCase] = field(default_factory=list)

    @property
    def recall(self) -> float | None:
        return self.found / self.attempts if self.attempts else None

    @property
    def precision(self) -> float | None:
        return self.correct / self.flagged if self.flagged else None

    @property
    def f1(self) -> float | None:
        return _f1(self.precision, self.recall)

    def to_json(self) -> dict[str, Any]:
        return {
            "typology": self.typology, "classes": self.classes, "attempts": self.attempts,
            "found": self.found, "recall": _round(self.recall), "flagged": self.flagged,
            "correct": self.correct, "precision": _round(self.precision), "f1": _round(self.f1),
        }


@dataclass
class Scorecard:
    rows: list[TypologyScore]
    no_attempt: int  # flagged entities in no attempt of any typology
    no_attempt_by_class: dict[str, int]
    attempts: int
    sources: list[str] = field(default_factory=list)

    def row(self, typology: str) -> TypologyScore | None:
        return next((r for r in self.rows if r.typology == typology), None)

    @property
    def totals(self) -> dict[str, Any]:
        attempts = sum(r.attempts for r in self.rows)
        found = sum(r.found for r in self.rows)
        flagged = sum(r.flagged for r in self.rows)
        correct = sum(r.correct for r in self.rows)
        recall = found / attempts if attempts else None
        precision = correct / flagged if flagged else None
        return {"attempts": attempts, "found": found, "recall": _round(recall), "flagged": flagged,
                "correct": correct, "precision": _round(precision), "f1": _round(_f1(precision, recall))}

    def to_json(self) -> dict[str, Any]:
        return {
            "ground_truth": {"attempts": self.attempts, "sources": self.sources},
            "typologies": [r.to_json() for r in self.rows],
            "no_attempt": {"flagged": self.no_attempt, "by_class": self.no_attempt_by_class},
            "totals": self.totals,
        }


def _f1(p: float | None, r: float | None) -> float | None:
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def score(findings: Mapping[str, Iterable[str]], attempts: list[Attempt]) -> Scorecard:
    """Score finding classes (class IRI -> flagged entity IRIs) against ground-truth attempts.

    Classes whose name names no typology are left out. Every typology of the ground truth gets
    a row, detected or not; so does every typology some class detects.
    """
    known = sorted({a.typology for a in attempts} | set(TYPOLOGIES))
    by_typology: dict[str, list[Attempt]] = {}
    involved: dict[str, set[str]] = {}
    for a in attempts:
        by_typology.setdefault(a.typology, []).append(a)
        for x in a.entities:
            involved.setdefault(x, set()).add(a.typology)
    classes: dict[str, list[str]] = {}
    flagged: dict[str, set[str]] = {}
    stray: dict[str, int] = {}
    stray_all: set[str] = set()
    for cls in sorted(findings):
        typ = typology_of(cls, known)
        if typ is None:
            continue
        members = set(findings[cls])
        classes.setdefault(typ, []).append(cls)
        flagged.setdefault(typ, set()).update(members)
        lone = {m for m in members if m not in involved}
        if lone:
            stray[cls] = len(lone)
            stray_all |= lone
    order = [t for t in TYPOLOGIES if t in by_typology or t in flagged]
    order += sorted((set(by_typology) | set(flagged)) - set(order))
    rows = []
    for typ in order:
        relevant = by_typology.get(typ, [])
        hit = flagged.get(typ, set())
        found = [a for a in relevant if hit & a.entities]
        correct = {m for m in hit if typ in involved.get(m, ())}
        rows.append(TypologyScore(
            typology=typ, classes=classes.get(typ, []), attempts=len(relevant), found=len(found),
            flagged=len(hit), correct=len(correct),
            missed=[a for a in relevant if not hit & a.entities],
            false=[FalseCase(m, sorted(involved.get(m, ()))) for m in sorted(hit - correct)],
        ))
    return Scorecard(rows, len(stray_all), stray, len(attempts))


@dataclass
class ChainCoverage:
    typology: str
    attempts: int
    found: int


def chain_coverage(chain_transactions: Iterable[Iterable[str]], attempts: list[Attempt]) -> tuple[list[ChainCoverage], int]:
    """Per typology, the attempts with a transaction in some reported chain (each chain given as
    its transaction IRIs); and how many chains touch any attempt at all."""
    chains = [set(c) for c in chain_transactions]
    in_chains: set[str] = set().union(*chains) if chains else set()
    attempt_tx = set().union(*(a.transactions for a in attempts)) if attempts else set()
    touching = sum(1 for c in chains if c & attempt_tx)
    by: dict[str, list[Attempt]] = {}
    for a in attempts:
        by.setdefault(a.typology, []).append(a)
    rows = [
        ChainCoverage(typ, len(group), sum(1 for a in group if a.transactions & in_chains))
        for typ, group in sorted(by.items())
    ]
    return rows, touching


# --- ground truth files -----------------------------------------------------------------------


def attempts_from_triples(rows: Iterable[tuple[str, str, str]]) -> list[Attempt]:
    """Attempts from (subject, predicate, object) of the ground-truth predicates; subjects and
    IRI objects bare, literal objects as their lexical form."""
    by: dict[str, dict[str, Any]] = {}
    for s, p, o in rows:
        a = by.setdefault(s, {"typology": "", "tx": set(), "party": set()})
        if p == HAS_TYPOLOGY:
            a["typology"] = o
        elif p == INVOLVES_TRANSACTION:
            a["tx"].add(o)
        elif p == INVOLVES_PARTY:
            a["party"].add(o)
    return [
        Attempt(s, a["typology"] or "unknown", frozenset(a["tx"]), frozenset(a["party"]))
        for s, a in sorted(by.items())
    ]


def read_attempts(path: str | Path) -> list[Attempt]:
    """Attempts of a ground-truth file: N-Triples (``.nt``, ``.nt.gz``) or the generator's CSV."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return _attempts_from_csv(path)
    from fincrime.rdf import read_ntriples
    from fincrime.rdf.columns import bare, lexical

    if not path.is_file():
        raise InputError(f"{path}: no such ground-truth file")
    frame = read_ntriples([path], predicates=[f"<{p}>" for p in TRUTH_PREDICATES])
    rows = frame.select(bare("s"), bare("p"), lexical("o")).iter_rows()
    return attempts_from_triples(rows)


def _attempts_from_csv(path: Path) -> list[Attempt]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
            reader = csv.DictReader(fh)
            need = {"attempt", "typology", "transaction"}
            if not reader.fieldnames or not need <= set(reader.fieldnames):
                raise InputError(f"{path}:1: a ground-truth CSV needs the columns {', '.join(sorted(need))}")
            triples = []
            for line, row in enumerate(reader, start=2):
                att, typ, tx = row.get("attempt"), row.get("typology"), row.get("transaction")
                if not att or not typ or not tx:
                    raise InputError(f"{path}:{line}: attempt, typology and transaction must not be empty")
                s = _entity(att)
                triples.append((s, HAS_TYPOLOGY, typ))
                triples.append((s, INVOLVES_TRANSACTION, _entity(tx)))
                for col in ("originator", "beneficiary"):
                    if row.get(col):
                        triples.append((s, INVOLVES_PARTY, _entity(row[col])))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return attempts_from_triples(triples)


def _entity(name: str) -> str:
    return name if ":" in name else ENT + name


# --- a finished job ---------------------------------------------------------------------------


def truth_files(manifest: Mapping[str, Any]) -> list[Path]:
    """Ground-truth files of a job: those its spec names (``ground_truth``, recorded among the
    manifest's inputs with kind ``ground_truth``), else the data files holding attempts."""
    named = [Path(i["path"]) for i in manifest.get("inputs") or []
             if isinstance(i, dict) and i.get("kind") == "ground_truth" and i.get("path")]
    if named:
        return named
    return [Path(i["path"]) for i in manifest.get("inputs") or []
            if isinstance(i, dict) and i.get("kind") == "data" and i.get("path") and _has_truth(Path(i["path"]))]


def score_job(job_dir: str | Path, ground_truth: str | Path | None = None) -> Scorecard:
    """Score a finished job folder. Ground truth: ``ground_truth`` if given, else the files the
    job spec names (``ground_truth``), else attempts found in the job's data files."""
    from fincrime.jobfolder import context_path, input_files, read_manifest, results_path

    job_dir = Path(job_dir)
    manifest = read_manifest(job_dir)
    results = results_path(job_dir)
    if results is None:
        raise InputError(f"{job_dir}: no results.nt; the job has no results (did it finish?)")
    sources = [Path(ground_truth)] if ground_truth is not None else truth_files(manifest)
    if not sources:
        raise InputError(
            f"{job_dir}: no ground truth; give --ground-truth FILE or name it in the job spec "
            "(\"ground_truth\")"
        )
    context = context_path(job_dir)
    data = [context] if context is not None else [Path(i["path"]) for i in input_files(manifest, "data")]
    return score_outputs(results, data, sources)


def score_outputs(results: Path, data: list[Path], sources: list[Path]) -> Scorecard:
    """Score the typology classes of a derived N-Triples file (flags on the parties and
    transactions typed in ``data``) against the attempts in the ``sources`` files."""
    from fincrime.rdf import read_ntriples
    from fincrime.rdf.columns import bare

    attempts = [a for src in sources for a in read_attempts(src)]
    types = read_ntriples([results], predicates=[f"<{RDF_TYPE}>"]).select(bare("s"), bare("o"))
    entities = _input_entities(data)
    findings: dict[str, list[str]] = {}
    for s, cls in types.iter_rows():
        if cls and typology_of(cls) is not None and (entities is None or s in entities):
            findings.setdefault(cls, []).append(s)
    card = score(findings, attempts)
    card.sources = [str(s) for s in sources]
    return card


def _has_truth(path: Path) -> bool:
    """Whether a data file holds ground-truth attempts (checked on its first lines only)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
            head = "".join(fh.readline() for _ in range(20))
    except OSError:
        return False
    return LAUNDERING_ATTEMPT in head or HAS_TYPOLOGY in head


def _input_entities(paths: list[Path]) -> set[str] | None:
    """Subjects typed in the input data (parties, transactions): flags on nodes the rules mint
    themselves (paths, windows) are intermediate results, not findings."""
    from fincrime.rdf import read_ntriples
    from fincrime.rdf.columns import bare

    present = [p for p in paths if p.is_file()]
    if not present:
        return None
    frame = read_ntriples(present, predicates=[f"<{RDF_TYPE}>"]).select(bare("s"))
    return set(frame["s"].to_list())


def render_table(card: Scorecard) -> Any:
    """A rich table of a scorecard (what ``fincrime score`` prints); the finding classes of each
    typology are in the table's caption."""
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{100 * x:.1f}%"

    classes = "; ".join(f"{r.typology}: {', '.join(local_name(c) for c in r.classes)}" for r in card.rows if r.classes)
    table = Table(title=f"typology detection against {card.attempts:,} ground-truth attempts",
                  caption=f"finding classes - {classes}" if classes else "no finding class names a typology")
    for col in ("typology", "attempts", "found", "recall", "flagged", "correct", "precision", "F1"):
        table.add_column(col, justify="left" if col == "typology" else "right", no_wrap=True)
    for r in card.rows:
        table.add_row(r.typology, f"{r.attempts:,}", f"{r.found:,}", pct(r.recall), f"{r.flagged:,}",
                      f"{r.correct:,}", pct(r.precision), pct(r.f1))
    table.add_row("no attempt", "", "", "", f"{card.no_attempt:,}", "0", "", "", style="dim")
    t = card.totals
    table.add_row("all", f"{t['attempts']:,}", f"{t['found']:,}", pct(t["recall"]), f"{t['flagged']:,}",
                  f"{t['correct']:,}", pct(t["precision"]), pct(t["f1"]), style="bold")
    return table


def dumps(card: Scorecard) -> str:
    return json.dumps(card.to_json(), indent=2)


__all__ = [
    "Attempt",
    "ChainCoverage",
    "FalseCase",
    "Scorecard",
    "TypologyScore",
    "attempts_from_triples",
    "chain_coverage",
    "dumps",
    "read_attempts",
    "render_table",
    "score",
    "score_job",
    "score_outputs",
    "truth_files",
    "typology_of",
]

