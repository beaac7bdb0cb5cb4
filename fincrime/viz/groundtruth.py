"""Score a job's typology findings and chains against the generator's ground truth.

A finding class (``type:FanInHub``) is matched to a typology (``fan_in``) by name. Precision is
counted over flagged entities (a flagged party or transaction is correct when it takes part in an
attempt of that typology); recall over attempts (an attempt counts as found when any of its
parties or transactions is flagged), because a hub detector flags the hub, not every spoke.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fincrime.viz.model import Attempt, Chain, local_name

#: Typology names the generator writes (docs/ARCHITECTURE.md).
TYPOLOGIES = (
    "fan_in",
    "fan_out",
    "cycle",
    "scatter_gather",
    "gather_scatter",
    "layering",
    "structuring",
    "bipartite",
)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def typology_of(class_iri: str, typologies: tuple[str, ...] | list[str] = TYPOLOGIES) -> str | None:
    """The typology a finding class detects, judged by its name (longest match wins).

    >>> typology_of("http://oxfordsemantic.tech/transactions/classes#FanInHub")
    'fan_in'
    >>> typology_of("urn:x#GatherScatterHub")
    'gather_scatter'
    >>> typology_of("urn:x#Unrelated") is None
    True
    """
    name = _norm(local_name(class_iri))
    hits = [t for t in typologies if _norm(t) and _norm(t) in name]
    return max(hits, key=lambda t: len(_norm(t))) if hits else None


@dataclass
class FalseCase:
    iri: str
    other_typologies: list[str]  # attempts of other typologies it takes part in


@dataclass
class Score:
    """How one finding class (or none) does on one typology."""

    typology: str
    finding_class: str | None
    attempts: int
    found: int
    flagged: int
    correct: int
    missed: list[Attempt] = field(default_factory=list)
    false: list[FalseCase] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.correct / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        return self.found / self.attempts if self.attempts else None


def score_findings(findings: dict[str, list[str]], attempts: list[Attempt]) -> list[Score]:
    """One score per finding class, plus one per ground-truth typology no class detects."""
    known = sorted({a.typology for a in attempts} | set(TYPOLOGIES))
    by_typology: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_typology.setdefault(a.typology, []).append(a)
    involved: dict[str, set[str]] = {}
    for a in attempts:
        for x in a.parties | a.transactions:
            involved.setdefault(x, set()).add(a.typology)

    scores: list[Score] = []
    covered: set[str] = set()
    for cls, members in sorted(findings.items()):
        typ = typology_of(cls, known)
        if typ is None:
            continue
        covered.add(typ)
        flagged = set(members)
        relevant = by_typology.get(typ, [])
        found = [a for a in relevant if flagged & (a.parties | a.transactions)]
        correct = {m for m in flagged if typ in involved.get(m, ())}
        scores.append(
            Score(
                typology=typ,
                finding_class=cls,
                attempts=len(relevant),
                found=len(found),
                flagged=len(flagged),
                correct=len(correct),
                missed=[a for a in relevant if a not in found],
                false=[FalseCase(m, sorted(involved.get(m, set()))) for m in sorted(flagged - correct)],
            )
        )
    for typ, relevant in sorted(by_typology.items()):
        if typ not in covered:
            scores.append(Score(typ, None, len(relevant), 0, 0, 0, missed=list(relevant)))
    return scores


@dataclass
class ChainCoverage:
    typology: str
    attempts: int
    found: int


def chain_coverage(chains: list[Chain], attempts: list[Attempt]) -> tuple[list[ChainCoverage], int]:
    """Per typology, the attempts with a transaction in some reported chain; and the number of
    chains that touch any attempt at all (the chains' precision numerator)."""
    in_chains: set[str] = set()
    for c in chains:
        in_chains.update(t.iri for t in c.transfers)
    attempt_tx = set().union(*(a.transactions for a in attempts)) if attempts else set()
    touching = sum(1 for c in chains if any(t.iri in attempt_tx for t in c.transfers))
    by: dict[str, list[Attempt]] = {}
    for a in attempts:
        by.setdefault(a.typology, []).append(a)
    rows = [
        ChainCoverage(typ, len(group), sum(1 for a in group if a.transactions & in_chains))
        for typ, group in sorted(by.items())
    ]
    return rows, touching
