"""Typology alerts: why a party is flagged, as the project's rules state it (``rules/typologies.dlog``).

Each flag comes with a ``type:TypologyAlert`` node (docs/ARCHITECTURE.md, "Typology alerts")::

    ?alert a type:TypologyAlert ; prop:hasTypology "fan_in" ;
        prop:flagsParty ?party ; prop:involvesTransaction ?t1, ?t2, ... ;
        prop:hasWindowStart ?first ; prop:hasWindowEnd ?last ;      # dates of the transfers
        prop:hasCounterpartyCount 7 ; prop:hasExpectedCount 0.4 ;    # and what was compared

This module reads them from a job's triples and says, in one sentence, what the numbers mean.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from fincrime.vocab import PROP, RDF_TYPE, TYPE

TYPOLOGY_ALERT = TYPE + "TypologyAlert"
FLAGS_PARTY = PROP + "flagsParty"
INVOLVES_TRANSACTION = PROP + "involvesTransaction"
HAS_TYPOLOGY = PROP + "hasTypology"
#: The numeric and date properties an alert may carry, by local name.
MEASURES = (
    "hasWindowStart", "hasWindowEnd", "hasCounterpartyCount", "hasExpectedCount", "hasTotalAmount",
    "hasTransferCount", "hasInflowCount", "hasInflowAmount", "hasOutflowCount", "hasOutflowAmount",
    "hasDepositsUnder", "hasDepositsOver", "hasThreshold",
)
ALERT_PREDICATES = (RDF_TYPE, HAS_TYPOLOGY, FLAGS_PARTY, INVOLVES_TRANSACTION, *(PROP + m for m in MEASURES))


@dataclass
class TypologyAlert:
    iri: str
    typology: str
    parties: list[str] = field(default_factory=list)
    transactions: list[str] = field(default_factory=list)
    measures: dict[str, str] = field(default_factory=dict)  # local name -> lexical form

    def number(self, name: str) -> float | None:
        try:
            return float(self.measures[name])
        except (KeyError, ValueError):
            return None

    @property
    def start(self) -> str:
        return self.measures.get("hasWindowStart", "")

    @property
    def end(self) -> str:
        return self.measures.get("hasWindowEnd", "")

    def reason(self) -> str:
        """What the rule found, in one sentence an investigator can check against the transfers."""
        n = self.number
        c, total = _count(n("hasCounterpartyCount")), _money(n("hasTotalAmount"))
        expected = n("hasExpectedCount")
        baseline = f"; its volume in that window predicts {expected:.2f}" if expected is not None else ""
        if self.typology == "fan_in":
            return f"{c} distinct ordinary payers, new to it, paid it similar amounts ({total} in all){baseline}"
        if self.typology == "fan_out":
            return f"it paid {c} distinct ordinary payees, new to it, similar amounts ({total} in all){baseline}"
        if self.typology == "cycle":
            return f"{_count(n('hasTransferCount'))} transfers, each passing on the money minus a small margin, came back to where they started ({total} moved)"
        if self.typology == "layering":
            return f"{_count(n('hasTransferCount'))} transfers passed the money on within days, each keeping back a small margin ({total} moved)"
        if self.typology == "scatter_gather":
            return f"{c} intermediaries each passed money from one source on to one target, minus a margin ({total} moved)"
        if self.typology == "gather_scatter":
            return (f"collected {_money(n('hasInflowAmount'))} from {_count(n('hasInflowCount'))} parties, then paid "
                    f"{_money(n('hasOutflowAmount'))} out to {_count(n('hasOutflowCount'))} others")
        if self.typology == "structuring":
            return (f"{_count(n('hasDepositsUnder'))} deposits just under the {_money(n('hasThreshold'))} threshold "
                    f"({total} in all), {_count(n('hasDepositsOver'))} just over it")
        if self.typology == "bipartite":
            return f"{c} payers each paid every one of the flagged payees ({total} in all)"
        return f"{len(self.transactions)} transfers"


def _count(x: float | None) -> str:
    return "?" if x is None else f"{x:,.0f}"


def _money(x: float | None) -> str:
    return "?" if x is None else f"{x:,.2f}"


def read_alerts(rows: Iterable[tuple[str, str, str]]) -> list[TypologyAlert]:
    """Alerts from ``(subject, predicate, value)`` rows: bare IRIs, literal values as their
    lexical form. Rows of other subjects are ignored; alerts come sorted by typology, start."""
    typed: set[str] = set()
    props: dict[str, list[tuple[str, str]]] = {}
    for s, p, v in rows:
        if p == RDF_TYPE:
            if v == TYPOLOGY_ALERT:
                typed.add(s)
        else:
            props.setdefault(s, []).append((p, v))
    out = []
    for s in typed:
        a = TypologyAlert(s, "")
        for p, v in props.get(s, []):
            if p == HAS_TYPOLOGY:
                a.typology = v
            elif p == FLAGS_PARTY:
                a.parties.append(v)
            elif p == INVOLVES_TRANSACTION:
                a.transactions.append(v)
            elif p.startswith(PROP):
                a.measures[p[len(PROP):]] = v
        a.parties.sort()
        a.transactions.sort()
        out.append(a)
    return sorted(out, key=lambda a: (a.typology, a.start, a.iri))


def alerts_by_party(alerts: list[TypologyAlert]) -> dict[str, list[TypologyAlert]]:
    out: dict[str, list[TypologyAlert]] = {}
    for a in alerts:
        for p in a.parties:
            out.setdefault(p, []).append(a)
    return out
