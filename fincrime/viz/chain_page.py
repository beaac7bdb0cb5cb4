"""Pictures of one chain: interactive HTML page, static SVG and PNG (Graphviz)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl

from fincrime.jobfolder import CHAIN_PAGES, write_atomic
from fincrime.viz import graphviz
from fincrime.viz.chain_graph import chain_dot, role_of
from fincrime.viz.model import Chain, JobData, format_amount, format_date, local_name
from fincrime.viz.pages import render

#: Transactions listed per party when it is clicked (the page says how many there are in all).
PARTY_TX_CAP = 150
PAGE_FORMATS = ("html", "svg", "png")


def chain_dir(viz_dir: Path) -> Path:
    return viz_dir / Path(CHAIN_PAGES).name


def party_activity(
    job: JobData, parties: Iterable[str], keep: set[str] | None = None, cap: int = PARTY_TX_CAP
) -> dict[str, tuple[list[tuple[str, str, str, float, str]], int]]:
    """Per party: its first ``cap`` input transactions by date plus any in ``keep`` (rows of
    tx, originator, beneficiary, amount, date), and how many it has in all.

    Capping happens in polars, so a hub with a million transfers costs no Python loop.
    """
    wanted = list(dict.fromkeys(parties))
    cols = ["tx", "originator", "beneficiary", "amount", "date"]
    tx = job.transactions
    as_orig = tx.filter(pl.col("originator").is_in(wanted)).with_columns(pl.col("originator").alias("party"))
    as_ben = tx.filter(pl.col("beneficiary").is_in(wanted) & (pl.col("beneficiary") != pl.col("originator")))
    rows = pl.concat([as_orig, as_ben.with_columns(pl.col("beneficiary").alias("party"))]).sort(["party", "date", "tx"])
    totals = dict(rows.group_by("party").len().iter_rows())
    shown = rows.filter(
        (pl.int_range(pl.len()).over("party") < cap) | pl.col("tx").is_in(list(keep or ()))
    )
    out: dict[str, tuple[list[tuple[str, str, str, float, str]], int]] = {p: ([], totals.get(p, 0)) for p in wanted}
    for party, *row in shown.select("party", *cols).iter_rows():
        out[party][0].append(tuple(row))  # type: ignore[arg-type]
    return out


def _party_panel(
    job: JobData, chain: Chain, iri: str, rows: list[tuple[str, str, str, float, str]], total: int
) -> dict[str, Any]:
    p = job.party(iri)
    in_chain = {t.iri for t in chain.transfers}
    cells = []
    for t, o, b, a, d in rows:
        out = o == iri
        cells.append(
            {
                "cells": [format_date(d), "out →" if out else "← in", job.party(b if out else o).name, format_amount(a)],
                "mark": t in in_chain,
            }
        )
    role = role_of(chain, iri).lower()
    return {
        "title": p.name,
        "lines": [iri] + ([role] if role else []),
        "badges": ["suspicious"] if p.suspicious else [],
        "table": {
            "title": f"Transactions in this job ({total:,})",
            "note": (f"showing {len(rows):,} of {total:,} (earliest first); " if len(rows) < total else "")
            + "highlighted rows are in this chain",
            "columns": ["Date", "Dir", "Counterparty", "Amount"],
            "numeric": [3],
            "rows": cells,
        },
    }


def chain_context(job: JobData, chain: Chain, svg: str, links: dict[str, str]) -> dict[str, Any]:
    parties = chain.parties
    activity = party_activity(job, parties, keep={t.iri for t in chain.transfers})
    neck = chain.bottleneck_index
    nodes = {}
    for i, iri in enumerate(parties):
        p = job.party(iri)
        tip = [p.name] + (["suspicious"] if p.suspicious else []) + ([role_of(chain, iri).lower()] if role_of(chain, iri) else [])
        rows, total = activity[iri]
        tip += [local_name(iri), f"{total:,} transactions in this job (click for the list)"]
        nodes[f"p{i}"] = {"tip": tip, "panel": _party_panel(job, chain, iri, rows, total)}
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
        written.append(write_atomic(out_dir / f"{chain.slug}.svg", svg, durable=False))
    if "png" in formats:
        written.append(write_atomic(out_dir / f"{chain.slug}.png", graphviz.render(source, "png"), durable=False))
    if "html" in formats:
        links = {"report": "../../report.html", "overview": "../overview.html"}
        links.update({f: f"{chain.slug}.{f}" for f in ("svg", "png") if f in formats or (out_dir / f"{chain.slug}.{f}").exists()})
        page = render("chain.html.j2", **chain_context(job, chain, graphviz.inline_svg(svg), links))
        written.append(write_atomic(out_dir / f"{chain.slug}.html", page, durable=False))
    return written
