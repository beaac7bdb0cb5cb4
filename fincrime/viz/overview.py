"""The job overview: all reported chains merged into one party graph, and a timeline.

Edges aggregate every chain hop between two parties: weight = number of chains using that link,
amount = total of the distinct transactions on it. Graphviz ``dot`` needs seconds for a few
hundred nodes and minutes for a thousand, so the graph keeps the strongest links (most chains,
then largest amount) while their parties fit in ``cap`` (the page says what was left out) and switches to ``sfdp`` past
``FORCE_MAX_NODES`` (force-directed layouts suit a party graph: it has no time order, and a long
chain folds up instead of stretching into one very wide row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from fincrime.jobfolder import write_atomic
from fincrime.viz import graphviz
from fincrime.viz.chain_graph import (
    FONT,
    PLAIN_FILL,
    PLAIN_LINE,
    SUSPICIOUS_FILL,
    SUSPICIOUS_LINE,
    short,
)
from fincrime.viz.graphviz import attrs
from fincrime.viz.model import Chain, JobData, format_amount, format_date, local_name
from fincrime.viz.pages import render

OVERVIEW_CAP = 300
FORCE_MAX_NODES = 120
TIMELINE_CAP = 200


@dataclass
class Link:
    chains: set[str] = field(default_factory=set)
    transactions: dict[str, float] = field(default_factory=dict)

    @property
    def amount(self) -> float:
        return sum(self.transactions.values())


@dataclass
class Overview:
    parties: dict[str, set[str]]  # party -> slugs of chains it is in (kept parties only)
    links: dict[tuple[str, str], Link]  # kept links
    endpoints: set[str]  # originators and beneficiaries of chains
    total_parties: int
    total_links: int

    @property
    def truncated(self) -> bool:
        return len(self.parties) < self.total_parties or len(self.links) < self.total_links

    @property
    def engine(self) -> str:
        return "neato" if len(self.parties) <= FORCE_MAX_NODES else "sfdp"


def aggregate(chains: list[Chain], cap: int = OVERVIEW_CAP) -> Overview:
    """Merge ``chains`` into a party graph of at most ``cap`` parties.

    >>> from fincrime.viz.model import Chain, Transfer
    >>> t = [Transfer("t1", "a", "b", 5.0, "2025-01-01"), Transfer("t2", "b", "c", 3.0, "2025-01-02")]
    >>> ov = aggregate([Chain("c1", (), t, "a", "c", 2, 3.0, slug="c1")], cap=2)
    >>> sorted(ov.parties), ov.total_parties, ov.truncated
    (['a', 'b'], 3, True)
    """
    parties: dict[str, set[str]] = {}
    flow: dict[str, float] = {}
    links: dict[tuple[str, str], Link] = {}
    endpoints: set[str] = set()
    for c in chains:
        endpoints.update((c.originator, c.beneficiary))
        for t in c.transfers:
            for p in (t.originator, t.beneficiary):
                parties.setdefault(p, set()).add(c.slug)
                flow[p] = flow.get(p, 0.0) + t.amount
            link = links.setdefault((t.originator, t.beneficiary), Link())
            link.chains.add(c.slug)
            link.transactions[t.iri] = t.amount
    # Strongest links first (most chains, then most money), taking their parties while they fit:
    # the kept graph is the densest part of the picture rather than unconnected busy parties.
    keep: dict[str, None] = {}
    kept_links: dict[tuple[str, str], Link] = {}
    for (a, b), link in sorted(links.items(), key=lambda kv: (-len(kv[1].chains), -kv[1].amount, kv[0])):
        new = [p for p in dict.fromkeys((a, b)) if p not in keep]
        if len(keep) + len(new) > cap:
            continue
        keep.update(dict.fromkeys(new))
        kept_links[(a, b)] = link
    ranked = sorted(keep, key=lambda p: (-len(parties[p]), -flow[p], p))
    return Overview(
        parties={p: parties[p] for p in ranked},
        links=kept_links,
        endpoints=endpoints,
        total_parties=len(parties),
        total_links=len(links),
    )


def overview_dot(ov: Overview, job: JobData) -> str:
    ids = {p: f"n{i}" for i, p in enumerate(ov.parties)}
    big = ov.engine == "sfdp"
    graph = {"id": "overview", "bgcolor": "white", "fontname": FONT, "pad": "0.3", "overlap": "prism"}
    if big:
        graph.update(splines="false", outputorder="edgesfirst", K="1.2")
    else:
        graph.update(splines="true", sep="+12")
    out = [
        "digraph overview {",
        "  graph " + attrs(**graph),
        "  node " + attrs(shape="box", style="rounded,filled", fontname=FONT, fontsize="9" if big else "10"),
        "  edge " + attrs(fontname=FONT, fontsize="8", arrowsize="0.7"),
    ]
    for p, slugs in ov.parties.items():
        party = job.party(p)
        role = p in ov.endpoints
        out.append(
            f"  {ids[p]} "
            + attrs(
                id=ids[p],
                class_="party" + (" suspicious" if party.suspicious else ""),
                label=f"{short(party.name, 22)}\n{len(slugs)} chain{'s' if len(slugs) != 1 else ''}",
                fillcolor=SUSPICIOUS_FILL if party.suspicious else PLAIN_FILL,
                color=SUSPICIOUS_LINE if party.suspicious else PLAIN_LINE,
                penwidth=2.2 if role else 1.0,
                peripheries=2 if role else None,
                tooltip=f"{party.name}\n{p}",
            )
        )
    for i, ((a, b), link) in enumerate(ov.links.items()):
        n = len(link.chains)
        out.append(
            f"  {ids[a]} -> {ids[b]} "
            + attrs(
                id=f"e{i}",
                class_="link",
                penwidth=f"{1 + 1.5 * math.log2(n):.2f}",
                color="#4b5563",
                label=None if big else f"{n} chain{'s' if n != 1 else ''}\n{format_amount(link.amount)}",
                tooltip=f"{n} chains, {len(link.transactions)} transfers, {format_amount(link.amount)}",
            )
        )
    out.append("}")
    return "\n".join(out) + "\n"


def _parse(date: str) -> datetime | None:
    try:
        d = datetime.fromisoformat(date)
    except ValueError:
        return None
    return d.astimezone(UTC).replace(tzinfo=None) if d.tzinfo else d


def timeline_svg(chains: list[Chain], job: JobData, rendered: set[str], cap: int = TIMELINE_CAP, href: str = "chains/") -> str:
    """An SVG timeline, one row per chain (largest bottleneck first), a dot per transfer."""
    shown = chains[:cap]
    when = {t.iri: _parse(t.date) for c in shown for t in c.transfers}
    dates = [d for d in when.values() if d is not None]
    gutter, width, row, top = 230, 1200, 16, 40
    height = top + row * max(len(shown), 1) + 30
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="Helvetica, Arial, sans-serif" font-size="10">',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    title = f"Timeline of chain transfers: {len(shown):,} chains"
    if len(chains) > len(shown):
        title += f" (the {len(shown):,} with the largest bottleneck of {len(chains):,})"
    out.append(f'<text x="8" y="16" font-size="13" font-weight="bold">{escape(title)}</text>')
    if not dates:
        out.append('<text x="8" y="34">no dated transfers</text></svg>')
        return "\n".join(out)
    t0, t1 = min(dates), max(dates)
    span = max((t1 - t0).total_seconds(), 1.0)
    plot = width - gutter - 20

    def x(d: datetime) -> float:
        return gutter + plot * (d - t0).total_seconds() / span

    for k in range(6):
        d = t0 + (t1 - t0) * (k / 5)
        xx = x(d)
        out.append(f'<line x1="{xx:.1f}" y1="{top - 8}" x2="{xx:.1f}" y2="{height - 22}" stroke="#e5e7eb"/>')
        out.append(f'<text x="{xx:.1f}" y="{height - 8}" text-anchor="middle" fill="#6b7280">{escape(format_date(d.isoformat()))}</text>')
    for r, c in enumerate(shown):
        y = top + r * row
        label = escape(f"{short(local_name(c.iri), 22)}  {format_amount(c.bottleneck)}")
        text = f'<text x="8" y="{y + 4}" fill="#374151">{label}</text>'
        if c.slug in rendered:
            text = f'<a href="{escape(href + c.slug)}.html">{text}</a>'
        out.append(text)
        xs = [(i, t, x(d)) for i, t in enumerate(c.transfers) if (d := when[t.iri]) is not None]
        if len(xs) > 1:
            pts = " ".join(f"{px:.1f},{y}" for *_, px in xs)
            out.append(f'<polyline points="{pts}" fill="none" stroke="#94a3b8" stroke-width="1.2"/>')
        neck = c.bottleneck_index
        for i, t, px in xs:
            tip = (
                f"{local_name(c.iri)} hop #{i + 1}{' (bottleneck)' if i == neck else ''}\n"
                f"{format_amount(t.amount)} on {format_date(t.date)}\n"
                f"{job.party(t.originator).name} → {job.party(t.beneficiary).name}"
            )
            colour, radius = ("#d62728", 5) if i == neck else ("#1f2937", 3.2)
            out.append(
                f'<circle class="tl-hop" cx="{px:.1f}" cy="{y}" r="{radius}" fill="{colour}" '
                f'data-tip="{escape(tip)}"><title>{escape(tip)}</title></circle>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _overview_data(ov: Overview, job: JobData, rendered: set[str]) -> dict[str, Any]:
    ids = {p: f"n{i}" for i, p in enumerate(ov.parties)}
    by_slug = {c.slug: c for c in job.chains}
    nodes = {}
    for p, slugs in ov.parties.items():
        party = job.party(p)
        ordered = sorted(slugs, key=lambda s: -by_slug[s].bottleneck)
        nodes[ids[p]] = {
            "tip": [party.name] + (["suspicious"] if party.suspicious else []) + [f"in {len(slugs):,} chains (click for the list)"],
            "panel": {
                "title": party.name,
                "lines": [p],
                "badges": ["suspicious"] if party.suspicious else [],
                "links": [
                    {"text": f"{local_name(by_slug[s].iri)} · bottleneck {format_amount(by_slug[s].bottleneck)}",
                     "href": f"chains/{s}.html" if s in rendered else f"../report.html#chain-{s}"}
                    for s in ordered[:200]
                ],
            },
        }
    edges = {}
    for i, ((a, b), link) in enumerate(ov.links.items()):
        edges[f"e{i}"] = {
            "tip": [
                f"{job.party(a).name} → {job.party(b).name}",
                f"{len(link.chains):,} chains · {len(link.transactions):,} transfers",
                f"Total amount {format_amount(link.amount)}",
            ]
        }
    return {"nodes": nodes, "edges": edges}


def render_overview(job: JobData, viz_dir: Path, rendered: set[str], cap: int = OVERVIEW_CAP) -> list[Path]:
    """Write ``viz/overview.html``, ``viz/overview.svg`` and ``viz/timeline.svg``."""
    ov = aggregate(job.chains, cap)
    svg = graphviz.render(overview_dot(ov, job), "svg", engine=ov.engine) if ov.parties else b""
    timeline = timeline_svg(job.chains, job, rendered)
    written = [write_atomic(viz_dir / "timeline.svg", timeline, durable=False)]
    if svg:
        written.append(write_atomic(viz_dir / "overview.svg", svg, durable=False))
    note = ""
    if ov.truncated:
        note = (
            f"Truncated: showing {len(ov.parties):,} of {ov.total_parties:,} parties and "
            f"{len(ov.links):,} of {ov.total_links:,} links (the links in the most chains, then with "
            "the largest amounts)."
        )
    page = render(
        "overview.html.j2",
        job_id=job.job_id,
        n_chains=len(job.chains),
        ov=ov,
        note=note,
        notes=job.notes,
        svg=graphviz.inline_svg(svg) if svg else "",
        timeline=timeline,
        data=_overview_data(ov, job, rendered),
    )
    written.insert(0, write_atomic(viz_dir / "overview.html", page, durable=False))
    return written
