"""DOT source of one chain: parties left to right in time order, the bottleneck hop emphasised.

Node ids are ``p<i>`` (parties in order of first appearance) and edge ids ``t<i>`` (hops in time
order); the interactive page and the tests rely on them.
"""

from __future__ import annotations

import itertools

from fincrime.viz.graphviz import attrs, quote
from fincrime.viz.model import Chain, JobData, format_amount, format_date, local_name

# Colours shared with the HTML pages' legend (assets/viz.css).
SUSPICIOUS_FILL, SUSPICIOUS_LINE = "#fde2e1", "#c0392b"
PLAIN_FILL, PLAIN_LINE = "#eef2f7", "#5b6b7f"
BOTTLENECK = "#d62728"
EDGE = "#4b5563"
FONT = "Helvetica"
#: Chains with more parties than this wrap onto rows of ROW parties, read like lines of text.
WRAP_AFTER, ROW = 10, 8


def short(text: str, width: int = 26) -> str:
    """Text cut to ``width`` characters with an ellipsis.

    >>> short("abcdefghij", 6)
    'abcde…'
    """
    return text if len(text) <= width else text[: width - 1] + "…"


def role_of(chain: Chain, party: str) -> str:
    roles = []
    if party == chain.originator:
        roles.append("ORIGINATOR")
    if party == chain.beneficiary:
        roles.append("BENEFICIARY")
    return " · ".join(roles)


def party_node(node_id: str, job: JobData, iri: str, role: str = "", extra: str = "") -> str:
    p = job.party(iri)
    lines = [short(p.name), short(local_name(iri), 22)]
    if p.suspicious:
        lines.insert(0, "SUSPICIOUS")
    if role:
        lines.insert(0, role)
    if extra:
        lines.append(extra)
    classes = ["party"] + (["suspicious"] if p.suspicious else []) + [r.lower() for r in role.split(" · ") if r]
    return f"  {node_id} " + attrs(
        id=node_id,
        class_=" ".join(classes),
        label="\n".join(lines),
        fillcolor=SUSPICIOUS_FILL if p.suspicious else PLAIN_FILL,
        color=SUSPICIOUS_LINE if p.suspicious else PLAIN_LINE,
        fontcolor="#7f1d1d" if p.suspicious else "#111827",
        penwidth=2.6 if role else (1.8 if p.suspicious else 1.0),
        peripheries=2 if role else None,
        tooltip=f"{p.name}{' (suspicious)' if p.suspicious else ''}{' - ' + role.lower() if role else ''}\n{iri}",
    )


def chain_dot(chain: Chain, job: JobData) -> str:
    """DOT for ``chain``; ``dot`` lays it out left to right in hop order."""
    parties = chain.parties
    ids = {p: f"p{i}" for i, p in enumerate(parties)}
    rank = {p: i for i, p in enumerate(parties)}
    neck = chain.bottleneck_index
    wrap = len(parties) > WRAP_AFTER
    title = (
        f"{', '.join(chain.class_names)}  ·  {chain.length} hops  ·  bottleneck "
        f"{format_amount(chain.bottleneck)}  ·  {format_date(chain.start_date)} → {format_date(chain.end_date)}"
    )
    out = [
        "digraph chain {",
        "  graph " + attrs(
            id="chain", rankdir="TB" if wrap else "LR", bgcolor="white", pad="0.3", nodesep="0.35", ranksep="0.75",
            fontname=FONT, fontsize="13", labelloc="t", labeljust="l",
            label=f"Chain {local_name(chain.iri)}\n{title}", tooltip=chain.iri,
        ),
        "  node " + attrs(shape="box", style="rounded,filled", fontname=FONT, fontsize="10", margin="0.12,0.06"),
        "  edge " + attrs(fontname=FONT, fontsize="9", arrowsize="0.8"),
    ]
    out += [party_node(ids[p], job, p, role_of(chain, p)) for p in parties]
    if wrap:
        # One rank per row keeps each row left to right; rows stack downwards in time order.
        for start in range(0, len(parties), ROW):
            row = parties[start : start + ROW]
            out.append("  { rank=same; " + "; ".join(ids[p] for p in row) + "; }")
            out += [f"  {ids[a]} -> {ids[b]} [style=invis]" for a, b in itertools.pairwise(row)]
        starts = parties[::ROW]
        # Row starts stacked in one column so rows line up on the left, like text.
        out += [f"  {ids[a]} -> {ids[b]} [style=invis, weight=100]" for a, b in itertools.pairwise(starts)]
    for i, t in enumerate(chain.transfers):
        is_neck = i == neck
        label = f"#{i + 1}  {format_amount(t.amount)}\n{format_date(t.date)}"
        if is_neck:
            label += "\nBOTTLENECK"
        backwards = rank[t.beneficiary] <= rank[t.originator]
        same_row = rank[t.beneficiary] // ROW == rank[t.originator] // ROW
        if wrap and same_row:
            backwards = True  # same row: the invisible edges already order it
        out.append(
            f"  {ids[t.originator]} -> {ids[t.beneficiary]} "
            + attrs(
                id=f"t{i}",
                class_="transfer bottleneck" if is_neck else "transfer",
                label=label,
                color=BOTTLENECK if is_neck else EDGE,
                fontcolor=BOTTLENECK if is_neck else "#1f2937",
                penwidth=4.0 if is_neck else 1.4,
                style="bold" if is_neck else None,
                constraint="false" if backwards else None,
                weight=0 if wrap and not same_row else None,
                tooltip=f"Transfer #{i + 1}: {format_amount(t.amount)} on {format_date(t.date)}\n"
                f"{job.party(t.originator).name} → {job.party(t.beneficiary).name}\n{t.iri}",
            )
        )
    out.append("}")
    return "\n".join(out) + "\n"


__all__ = ["chain_dot", "party_node", "quote", "role_of", "short"]
