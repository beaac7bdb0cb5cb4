"""The investigator report of a job: ``report.html``, ``chains.csv`` and ``chains.json``.

``report.html`` is one self-contained file (inline CSS/JS, no request leaves it) that links to
the pictures under ``viz/`` when :func:`fincrime.viz.render_job` has drawn them. The chains table
is paginated in the browser, so a report with 10,000 chains opens in about a second.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fincrime.jobfolder import REPORT, VIZ, input_files, write_atomic
from fincrime.scoring import chain_coverage, score, typology_of
from fincrime.viz.chain_page import chain_dir
from fincrime.viz.loader import load_job
from fincrime.viz.model import Chain, JobData, local_name
from fincrime.viz.pages import render

#: Rule or query text shown inline per file; longer files are cut with a note.
SOURCE_CAP = 100_000
#: Members listed per finding class and cases listed per score (counts are always complete).
LIST_CAP = 200

CSV_COLUMNS = (
    "rank", "chain", "classes", "originator", "originator_name", "beneficiary", "beneficiary_name",
    "length", "bottleneck_amount", "bottleneck_transaction", "starting_amount", "final_amount",
    "start_date", "end_date", "transactions", "parties", "picture",
)


def chain_record(job: JobData, chain: Chain, rank: int, picture: str | None) -> dict[str, Any]:
    """One chain as case-management tools take it (the row of chains.csv / item of chains.json)."""
    neck = chain.bottleneck_index
    return {
        "rank": rank,
        "chain": chain.iri,
        "classes": chain.class_names,
        "originator": chain.originator,
        "originator_name": job.party(chain.originator).name,
        "beneficiary": chain.beneficiary,
        "beneficiary_name": job.party(chain.beneficiary).name,
        "length": chain.length,
        "bottleneck_amount": chain.bottleneck,
        "bottleneck_transaction": chain.transfers[neck].iri if neck >= 0 else None,
        "starting_amount": chain.starting_amount,
        "final_amount": chain.final_amount,
        "start_date": chain.start_date,
        "end_date": chain.end_date,
        "transactions": [
            {"transaction": t.iri, "originator": t.originator, "beneficiary": t.beneficiary,
             "amount": t.amount, "date": t.date}
            for t in chain.transfers
        ],
        "parties": chain.parties,
        "picture": picture,
    }


def _csv(records: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in records:
        row = dict(r)
        row["classes"] = " ".join(r["classes"])
        row["transactions"] = " ".join(t["transaction"] for t in r["transactions"])
        row["parties"] = " ".join(r["parties"])
        row["picture"] = r["picture"] or ""
        w.writerow(row)
    return buf.getvalue()


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        out: list[tuple[str, Any]] = []
        for k, v in value.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, value)]


def _sources(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in input_files(manifest, "rules") + input_files(manifest, "queries"):
        path = Path(item["path"])
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
            missing = False
        except OSError:
            text, missing = "", True
        out.append({
            "kind": item["kind"], "path": str(path), "name": path.name, "sha256": item.get("sha256", ""),
            "text": text[:SOURCE_CAP], "cut": len(text) > SOURCE_CAP, "missing": missing,
        })
    return out


def _status(manifest: dict[str, Any]) -> str:
    status = str(manifest.get("status") or "unknown")
    # The job runner writes the report in its last phase, before the job is marked finished.
    if status == "visualizing":
        return "finishing (report written in the last phase)"
    return status


def _table_data(job: JobData, pictures: dict[str, str]) -> dict[str, Any]:
    """Compact chains for the browser table: parties once, hops as party indexes."""
    index: dict[str, int] = {}
    parties: list[list[Any]] = []

    def ref(iri: str) -> int:
        if iri not in index:
            p = job.party(iri)
            index[iri] = len(parties)
            parties.append([p.name, iri, 1 if p.suspicious else 0])
        return index[iri]

    rows = []
    for c in job.chains:
        rows.append([
            c.slug, local_name(c.iri), c.iri, c.class_names, ref(c.originator), ref(c.beneficiary),
            c.length, c.bottleneck, c.start_date, c.end_date, c.bottleneck_index, pictures.get(c.slug, ""),
            [[ref(t.originator), ref(t.beneficiary), t.amount, t.date, local_name(t.iri)] for t in c.transfers],
        ])
    return {"parties": parties, "chains": rows}


def _count_by(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def _findings(job: JobData) -> list[dict[str, Any]]:
    tx_ids = set(job.transactions["tx"].to_list()) if job.findings else set()
    out = []
    for cls, members in sorted(job.findings.items()):
        listed = []
        for m in members[:LIST_CAP]:
            kind = "party" if m in job.parties else ("transaction" if m in tx_ids else "entity")
            listed.append({"iri": m, "kind": kind, "name": job.party(m).name if kind == "party" else local_name(m)})
        out.append({
            "cls": cls, "name": local_name(cls), "typology": typology_of(cls),
            "count": len(members), "members": listed,
        })
    return out


#: Transfers listed per alert (the count is always complete).
ALERT_TRANSFERS = 50


def _alerts(job: JobData) -> list[dict[str, Any]]:
    """Typology alerts for the report: the reason in words, the flagged parties, the window and
    the transfers involved (capped per alert, and at LIST_CAP alerts a typology)."""
    if not job.alerts:
        return []
    tx = job.transactions
    wanted = {t for a in job.alerts for t in a.transactions[:ALERT_TRANSFERS]}
    rows = {r[0]: r for r in tx.filter(tx["tx"].is_in(list(wanted))).iter_rows()} if wanted else {}
    shown: dict[str, int] = {}
    out = []
    for a in job.alerts:
        shown[a.typology] = shown.get(a.typology, 0) + 1
        if shown[a.typology] > LIST_CAP:
            continue
        transfers = []
        for t in a.transactions[:ALERT_TRANSFERS]:
            row = rows.get(t)
            if row is None:
                transfers.append({"tx": local_name(t), "from": "", "to": "", "amount": None, "date": ""})
                continue
            _, orig, ben, amount, date = row[:5]
            transfers.append({"tx": local_name(t), "from": job.party(orig).name, "to": job.party(ben).name,
                              "amount": amount, "date": date})
        transfers.sort(key=lambda r: (r["date"], r["tx"]))
        out.append({
            "typology": a.typology, "reason": a.reason(), "iri": a.iri,
            "parties": [{"iri": p, "name": job.party(p).name} for p in a.parties],
            "start": a.start, "end": a.end, "n_transfers": len(a.transactions), "transfers": transfers,
        })
    return out


def report_context(job: JobData) -> dict[str, Any]:
    manifest = job.manifest
    viz = job.job_dir / VIZ
    drawn = {p.stem for p in chain_dir(viz).glob("*.html")}  # one listing, not 10,000 stats
    pictures = {c.slug: f"viz/chains/{c.slug}.html" for c in job.chains if c.slug in drawn}
    timings = [(k, v) for k, v in _flatten(manifest.get("timings") or {}) if isinstance(v, int | float)]
    longest = max((v for _, v in timings), default=0) or 1
    card = score(job.findings, job.attempts) if job.attempts else None
    coverage, touching = (
        chain_coverage([[t.iri for t in c.transfers] for c in job.chains], job.attempts) if job.attempts else ([], 0)
    )
    return {
        "job": {
            "id": job.job_id, "dataset": manifest.get("dataset", job.job_dir.parent.name),
            "name": manifest.get("name", ""), "status": _status(manifest),
            "dir": str(job.job_dir),
        },
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "notes": job.notes,
        "inputs": [i for i in manifest.get("inputs") or [] if isinstance(i, dict)],
        "sources": _sources(manifest),
        "spec": json.dumps(manifest.get("spec") or {}, indent=2, ensure_ascii=False),
        "params": sorted(((manifest.get("spec") or {}).get("params") or {}).items()),
        "counts": _flatten(manifest.get("counts") or {}),
        "chain_counts": sorted(job.chain_counts.items()),
        "n_reported": len(job.chains),
        "n_pictures": len(pictures),
        "timings": [(k, v, 100 * v / longest) for k, v in timings],
        "software": _flatten(manifest.get("software") or {}),
        "has_overview": (viz / "overview.html").exists(),
        "findings": _findings(job),
        "alerts": _alerts(job),
        "alert_counts": sorted(_count_by(a.typology for a in job.alerts).items()),
        "alert_transfers": ALERT_TRANSFERS,
        "scores": card.rows if card else [],
        "card": card,
        "coverage": coverage,
        "touching": touching,
        "has_truth": bool(job.attempts),
        "n_attempts": len(job.attempts),
        "party_name": lambda iri: job.party(iri).name,
        "attempt_parties": lambda a: ", ".join(sorted(job.party(p).name for p in a.parties)),
        "list_cap": LIST_CAP,
        "table": _table_data(job, pictures),
        "pictures": pictures,
    }


def write_report(job_dir: str | Path) -> Path:
    """Write ``report.html``, ``chains.csv`` and ``chains.json`` into the job folder.

    Returns the path of ``report.html``. Pictures already drawn under ``viz/`` are linked, so
    call :func:`fincrime.viz.render_job` first when both are wanted.
    """
    job = load_job(job_dir)
    ctx = report_context(job)
    records = [
        chain_record(job, c, i + 1, ctx["pictures"].get(c.slug)) for i, c in enumerate(job.chains)
    ]
    write_atomic(job.job_dir / "chains.csv", _csv(records), durable=False)
    payload = {
        "job": job.job_id,
        "dataset": ctx["job"]["dataset"],
        "generated": ctx["generated"],
        "chain_counts": job.chain_counts,
        "chains": records,
    }
    write_atomic(job.job_dir / "chains.json", json.dumps(payload, ensure_ascii=False), durable=False)
    return write_atomic(job.job_dir / REPORT, render("report.html.j2", **ctx), durable=False)
