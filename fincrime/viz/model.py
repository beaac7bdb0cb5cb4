"""What pictures and reports are drawn from: parties, transfers, chains and a job's findings."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fincrime.evidence import TypologyAlert
from fincrime.scoring import Attempt


def local_name(iri: str) -> str:
    """The part of an IRI after its last ``#`` or ``/``.

    >>> local_name("http://oxfordsemantic.tech/transactions/classes#FanInHub")
    'FanInHub'
    """
    s = iri.rstrip("/#")
    return s[max(s.rfind("#"), s.rfind("/")) + 1 :] or iri


def format_amount(value: float | None) -> str:
    """Amounts as investigators read them: thousands separators, two decimals.

    >>> format_amount(1234567.5)
    '1,234,567.50'
    """
    return "" if value is None else f"{value:,.2f}"


def format_date(value: str | None) -> str:
    """An xsd:dateTime lexical form shortened to minutes for labels.

    >>> format_date("2026-11-21T11:48:27")
    '2026-11-21 11:48'
    """
    if not value:
        return ""
    return value.replace("T", " ")[:16]


@dataclass(frozen=True)
class Party:
    iri: str
    name: str
    suspicious: bool = False
    internal: bool | None = None  # prop:isInternal: a customer of the reporting institution


@dataclass(frozen=True)
class Transfer:
    iri: str
    originator: str
    beneficiary: str
    amount: float
    date: str  # xsd:dateTime lexical form; ISO order is time order


@dataclass
class Chain:
    """A derived chain of transfers, ordered in time (first hop first)."""

    iri: str
    classes: tuple[str, ...]
    transfers: list[Transfer]
    originator: str
    beneficiary: str
    length: int
    bottleneck: float
    starting_amount: float | None = None
    final_amount: float | None = None
    start_date: str = ""
    end_date: str = ""
    shape: str = "compact"  # or "seed" (prop:containsTransaction on every chain)
    slug: str = ""

    @property
    def bottleneck_index(self) -> int:
        """Position of the (first) hop carrying the bottleneck amount, -1 when unknown."""
        for i, t in enumerate(self.transfers):
            if abs(t.amount - self.bottleneck) < 1e-9:
                return i
        return -1

    @property
    def parties(self) -> list[str]:
        """Distinct parties in order of first appearance along the chain."""
        seen: dict[str, None] = {}
        for t in self.transfers:
            seen.setdefault(t.originator, None)
            seen.setdefault(t.beneficiary, None)
        if not seen:
            seen = {self.originator: None, self.beneficiary: None}
        return list(seen)

    @property
    def class_names(self) -> list[str]:
        return [local_name(c) for c in self.classes]


@dataclass
class JobData:
    """Everything a picture or report needs from one job output folder."""

    job_dir: Path
    manifest: dict[str, Any]
    chains: list[Chain]  # the reported chains, largest bottleneck first
    chain_counts: dict[str, int]  # chain class local name -> number of chains in derived.nt
    parties: dict[str, Party]
    transactions: pl.DataFrame  # tx, originator, beneficiary, amount, date (all input data)
    findings: dict[str, list[str]]  # derived non-chain class IRI -> member IRIs
    attempts: list[Attempt] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alerts: list[TypologyAlert] = field(default_factory=list)  # why each typology flag was raised

    @property
    def job_id(self) -> str:
        return str(self.manifest.get("id") or self.job_dir.name)

    def party(self, iri: str) -> Party:
        return self.parties.get(iri) or Party(iri, local_name(iri))

    def chain_by_iri(self, iri: str) -> Chain | None:
        return next((c for c in self.chains if c.iri == iri), None)


def assign_slugs(chains: list[Chain]) -> None:
    """Give each chain a file-name-safe, unique, stable slug derived from its IRI."""
    used: set[str] = set()
    for c in chains:
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", local_name(c.iri)).strip("-")[:48] or "chain"
        slug = base
        if slug in used:
            slug = f"{base}-{hashlib.sha1(c.iri.encode()).hexdigest()[:8]}"
        used.add(slug)
        c.slug = slug
