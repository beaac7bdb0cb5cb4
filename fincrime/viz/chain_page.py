"""Pictures of one chain: interactive HTML page, static SVG and PNG (Graphviz)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from fincrime.viz import graphviz
from fincrime.viz.chain_graph import chain_dot, role_of
from fincrime.viz.model import Chain, JobData, format_amount, format_date, local_name
from fincrime.viz.output import atomic_write
from fincrime.viz.templates import render

#: Transactions listed per party when it is clicked (the page says how many there are in all).
PARTY_TX_CAP = 150
PAGE_FORMATS = ("html", "svg", "png")


def chain_dir(viz_dir: Path) -> Path:
    return viz_dir / "chains"


def party_activity(job: JobData, parties: Iterable[str]) -> dict[str, list[tuple[str, str, str, float, str]]]:
    """Every input transaction of each party: (tx, originator, beneficiary, amount, date), by date."""
    wanted = list(dict.fromkeys(parties))
    tx = job.transactions
    rows = tx.filter(pl.col("originator").is_in(wanted) | pl.col("beneficiary").is_in(wanted)).sort(["date", "tx"])
    wanted_set = set(wanted)
    out: dict[str, list[tuple[str, str, str, float, str]]] = {p: [] for p in wanted}
    for t, o, b, a, d in rows.select("tx", "originator", "beneficiary", "amount", "date").iter_rows():
        if o in wanted_set:
            out[o].append((t, o, b, a, d))
        if b in wanted_set and b != o:
            out[b].append((t, o, b, a, d))
    return out


def _party_panel(job: JobData, chain: Chain, iri: str, activity: list[tuple[str, str, str, float, str]]) -> dict[str, Any]:
    p = job.party(iri)
    in_chain = {t.iri for t in chain.transfers}
    keep = [r for r in activity if r[0] in in_chain]
    keep += [r for r in activity if r[0] not in in_chain][: max(PARTY_TX_CAP - len(keep), 0)]
    keep.sort(key=lambda r: (r[4], r[0]))
    rows = []
    for t, o, b, a, d in keep:
        out = o == iri
        rows.append(
            {
                "cells": [format_date(d), "out →" if out else "← in", job.party(b if out else o).name, format_amount(a)],
                "mark": t in in_chain,
            }
        )
    role = role_of(chain, iri).lower()
    lines = [iri] + ([role] if role else [])
    return {
        "title": p.name,
        "lines": lines,
        "badges": ["suspicious"] if p.suspicious else [],
        "table": {
            "title": f"Transactions in this job ({len(activity):,})",
            "note": (f"showing {len(keep):,} of {len(activity):,}; " if len(keep) < len(activity) else "")
            + "highlighted rows are in this chain",
            "columns": ["Date", "Dir", "Counterparty", "Amount"],
            "numeric": [3],
            "rows": rows,
        },
    }


def chain_context(job: JobData, chain: Chain, svg: str, links: dict[str, str]) -> dict[str, Any]:
    parties = chain.parties
    activity = party_activity(job, parties)
    neck = chain.bottleneck_index
    nodes = {}
    for i, iri in enumerate(parties):
        p = job.party(iri)
        tip = [p.name] + (["suspicious"] if p.suspicious else []) + ([role_of(chain, iri).lower()] if role_of(chain, iri) else [])
        tip += [local_name(iri), f"{len(activity[iri]):,} transactions in this job (click for the list)"]
        nodes[f"p{i}"] = {"tip": tip, "panel": _party_panel(job, chain, iri, activity[iri])}
    edges = {}
    hops = []
    for i, t in enumerate(chain.transfers):
        frm, to = job.party(t.originator).name, job.party(t.beneficiary).name
        edges[f"t{i}"] = {
            "tip": [
                f"Transfer #{i + 1}" + (" · BOTTLENECK" if i == neck else ""),
                f"Amount {format_amount(t.amount)}",
                f"Date {format_date(t.date)}",
                f"{frm} → {to}",
                local_name(t.iri),
            ],
            "row": f"hop-{i}",
        }
        hops.append({"iri": t.iri, "frm": frm, "to": to, "amount": t.amount, "date": t.date})
    return {
        "job_id": job.job_id,
        "chain": chain,
        "svg": svg,
        "neck": neck,
        "hops": hops,
        "n_parties": len(parties),
        "originator": job.party(chain.originator),
        "beneficiary": job.party(chain.beneficiary),
        "notes": [] if len(chain.transfers) == chain.length else [
            f"The chain states {chain.length} hops but {len(chain.transfers)} of its transactions were found in the input data."
        ],
        "report_href": links["report"],
        "overview_href": links["overview"],
        "other_formats": [{"href": h, "label": k.upper()} for k, h in links.items() if k in ("svg", "png")],
        "data": {"nodes": nodes, "edges": edges},
    }


def render_chain(job: JobData, chain: Chain, viz_dir: Path, formats: Iterable[str]) -> list[Path]:
    """Write the chain's pictures (``viz/chains/<slug>.{html,svg,png}``); returns the files."""
    formats = tuple(formats)
    out_dir = chain_dir(viz_dir)
    source = chain_dot(chain, job)
    written: list[Path] = []
    svg = graphviz.render(source, "svg") if {"svg", "html"} & set(formats) else b""
    if "svg" in formats:
        written.append(atomic_write(out_dir / f"{chain.slug}.svg", svg))
    if "png" in formats:
        written.append(atomic_write(out_dir / f"{chain.slug}.png", graphviz.render(source, "png")))
    if "html" in formats:
        links = {"report": "../../report.html", "overview": "../overview.html"}
        links.update({f: f"{chain.slug}.{f}" for f in ("svg", "png") if f in formats or (out_dir / f"{chain.slug}.{f}").exists()})
        page = render("chain.html.j2", **chain_context(job, chain, graphviz.inline_svg(svg), links))
        written.append(atomic_write(out_dir / f"{chain.slug}.html", page))
    return written
