"""Alerts from a finished job: every SuspiciousChain, HighValueChain and typology flag.

The job folder is read through the viz loader (the one reader of job outputs), so chains in
either shape and any typology class the rules define become alerts without this module knowing
their names: a *typology flag* is a derived class, other than the chain classes, on an input
party or transaction (see docs/ARCHITECTURE.md). A chain that is both suspicious and high-value
is one alert whose rule is ``HighValueChain``. Evidence is copied into the alert, so it stays
readable when the job folder is cleaned up: the chain's transfers in time order, or a flagged
party's transfers in the job, plus any derived facts about the flagged entity in the embedded
store (evidence triples the rules write) when the job was loaded there.

Ingesting a job twice adds nothing: alerts are unique per job, subject and rule.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fincrime.cases.alerts import Alerts, NewAlert
from fincrime.cases.db import Casework
from fincrime.jobfolder.chains import HIGH_VALUE_CHAIN, SUSPICIOUS_CHAIN
from fincrime.jobs.registry import now_iso
from fincrime.scoring import typology_of
from fincrime.stores.embedded import EmbeddedStore
from fincrime.stores.jobfiles import job_graph
from fincrime.viz.chain_page import party_activity
from fincrime.viz.loader import load_job
from fincrime.viz.model import local_name

log = logging.getLogger(__name__)

#: Transfers copied into a typology alert's evidence (the count is always complete).
EVIDENCE_TRANSFERS = 200
#: Derived facts copied per flagged entity.
EVIDENCE_FACTS = 100


def _party(job: Any, iri: str) -> dict[str, Any]:
    p = job.party(iri)
    return {"iri": iri, "name": p.name, "suspicious": p.suspicious, "internal": p.internal}


def _transfer(iri: str, originator: str, beneficiary: str, amount: float, date: str) -> dict[str, Any]:
    return {"iri": iri, "from": originator, "to": beneficiary, "amount": amount, "date": date}


def chain_alerts(job: Any) -> list[NewAlert]:
    out = []
    for chain in job.chains:
        if HIGH_VALUE_CHAIN in chain.classes:
            rule = "HighValueChain"
        elif SUSPICIOUS_CHAIN in chain.classes:
            rule = "SuspiciousChain"
        else:
            continue  # the loader's fallback of maximal partial chains is a picture, not a finding
        parties = {iri: _party(job, iri) for iri in chain.parties}
        evidence = {
            "chain": chain.iri,
            "classes": list(chain.classes),
            "originator": _party(job, chain.originator),
            "beneficiary": _party(job, chain.beneficiary),
            "length": chain.length,
            "bottleneck": chain.bottleneck,
            "starting_amount": chain.starting_amount,
            "final_amount": chain.final_amount,
            "start_date": chain.start_date,
            "end_date": chain.end_date,
            "transfers": [_transfer(t.iri, t.originator, t.beneficiary, t.amount, t.date) for t in chain.transfers],
            "parties": list(parties.values()),
            "slug": chain.slug,
        }
        title = (f"{rule}: {job.party(chain.originator).name} → {job.party(chain.beneficiary).name}, "
                 f"{chain.length} transfers, bottleneck {chain.bottleneck:,.2f}")
        out.append(NewAlert(job.job_id, _dataset(job), "chain", rule, chain.iri, title, chain.bottleneck, evidence))
    return out


def _dataset(job: Any) -> str:
    return str(job.manifest.get("dataset") or job.job_dir.parent.name)


def typology_alerts(job: Any, facts: dict[str, list[list[str]]] | None = None) -> list[NewAlert]:
    facts = facts or {}
    flagged_parties = [m for members in job.findings.values() for m in members if m in job.parties]
    activity = party_activity(job, flagged_parties, cap=EVIDENCE_TRANSFERS) if flagged_parties else {}
    tx = job.transactions
    out = []
    for cls, members in sorted(job.findings.items()):
        rule = local_name(cls)
        for member in members:
            evidence: dict[str, Any] = {"class": cls, "typology": typology_of(cls), "entity": member,
                                        "facts": facts.get(member, [])}
            if member in job.parties:
                rows, total = activity.get(member, ([], 0))
                transfers = [_transfer(*row) for row in rows]
                evidence.update(kind="party", party=_party(job, member), transfers=transfers, transfer_count=total)
                name = job.party(member).name
                amount = sum(t["amount"] for t in transfers)
            else:
                hit = tx.filter(tx["tx"] == member).head(1).rows()
                transfers = [_transfer(*row) for row in hit]
                evidence.update(kind="transaction", transfers=transfers, transfer_count=len(transfers))
                name = local_name(member)
                amount = transfers[0]["amount"] if transfers else None
            if transfers:
                others = {t["from"] for t in transfers} | {t["to"] for t in transfers}
                evidence["parties"] = [_party(job, p) for p in sorted(others)]
            title = f"{rule}: {name}" + (f" ({evidence['transfer_count']} transfers)" if evidence.get("transfer_count") else "")
            out.append(NewAlert(job.job_id, _dataset(job), "typology", rule, member, title, amount, evidence))
    return out


def store_facts(store_dir: Path, job_id: str, subjects: list[str]) -> dict[str, list[list[str]]]:
    """Derived triples about each subject in the job's graph, and those of nodes pointing at it
    (evidence nodes), as N-Triples term strings; empty when the job is not in the store."""
    if not subjects or not store_dir.is_dir():
        return {}
    try:
        store = EmbeddedStore(store_dir, read_only=True)
        if job_id not in store.jobs():
            return {}
    except Exception as exc:  # a busy or missing store only means less evidence
        log.info("no store evidence for %s: %s", job_id, exc)
        return {}
    graph = job_graph(job_id)
    out: dict[str, list[list[str]]] = {}
    for subject in subjects:
        query = (
            f"SELECT ?s ?p ?o WHERE {{ GRAPH <{graph}> {{"
            f" {{ BIND(<{subject}> AS ?s) <{subject}> ?p ?o FILTER(?p != <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>) }}"
            f" UNION {{ ?s ?link <{subject}> . ?s ?p ?o }} }} }} LIMIT {EVIDENCE_FACTS}"
        )
        try:
            rows = [[str(r["s"]), str(r["p"]), str(r["o"])] for r in store.store.query(query)]
        except Exception as exc:
            log.info("evidence query failed for %s: %s", subject, exc)
            continue
        if rows:
            out[subject] = rows
    return out


def ingest_job(cw: Casework, job_dir: Path, *, store_dir: Path | None = None, actor: str = "system") -> int:
    """Turns a finished job's findings into alerts; returns how many alerts were new."""
    job = load_job(job_dir)
    subjects = sorted({m for members in job.findings.values() for m in members})
    facts = store_facts(store_dir, job.job_id, subjects) if store_dir else {}
    alerts = chain_alerts(job) + typology_alerts(job, facts)
    added = Alerts(cw).add_many(alerts, actor=actor)
    with cw.write() as db:
        db.execute("INSERT OR REPLACE INTO ingested(job_id, at, alerts, error) VALUES (?,?,?,NULL)",
                   (job.job_id, now_iso(), len(alerts)))
        cw.audit(db, actor, "job.ingest", f"job:{job.job_id}", alerts=len(alerts), new=added)
    return added


def record_failure(cw: Casework, job_id: str, error: str) -> None:
    with cw.write() as db:
        db.execute("INSERT OR REPLACE INTO ingested(job_id, at, alerts, error) VALUES (?,?,0,?)", (job_id, now_iso(), error))
        cw.audit(db, "system", "job.ingest_failed", f"job:{job_id}", error=error)


def ingested(cw: Casework) -> dict[str, dict[str, Any]]:
    return {r["job_id"]: dict(r) for r in cw.db.execute("SELECT * FROM ingested").fetchall()}
