"""The property-graph view of a job's results, shared by the Gremlin and Neptune targets.

Mapping (labels and ids are stable: the same data gives the same graph on every run):

=============  ======================================  =====================================
element        id                                      properties
=============  ======================================  =====================================
``party``      local name (``party_<hex>``)            ``iri``, ``fullName``, ``name``
(vertex)                                               (rdfs:label), ``isInternal``,
                                                       ``isExited``, ``isSuspicious``
``chain``      local name of the chain IRI             ``iri``, ``job``, ``length``,
(vertex)                                               ``startDate``, ``endDate``,
                                                       ``startingAmount``, ``finalAmount``,
                                                       ``minimumAmount``, ``suspicious``,
                                                       ``highValue``
``transfer``   local name (``transaction_<hex>``)      ``iri``, ``amount`` (double),
(edge party                                            ``date`` (datetime)
-> party)
``originator``  ``<chain>:originator``                 (chain -> its first payer)
``beneficiary`` ``<chain>:beneficiary``                (chain -> its last payee)
``extends``    ``<chain>:extends``                     chain -> the chain it extends
``member``     ``<chain>:<position>``                  chain -> payee of its n-th transfer;
                                                       ``position``, ``transaction``,
                                                       ``amount``, ``date``
=============  ======================================  =====================================

An IRI outside the ``entities#`` namespace keeps its full text as id. Amounts are doubles
(property graphs have no decimal type); dates are naive datetimes, as in the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
import pyoxigraph as ox

from fincrime.jobfolder.chains import chain_members
from fincrime.stores.embedded import memory_store
from fincrime.stores.jobfiles import JobFiles
from fincrime.vocab import ENT, PROP, RDFS, TYPE

Props = dict[str, Any]


@dataclass(frozen=True)
class Vertex:
    id: str
    label: str
    props: Props = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    id: str
    label: str
    out_v: str
    in_v: str
    props: Props = field(default_factory=dict)


def element_id(iri: str) -> str:
    """The stable id of an entity: its local name in the entities namespace.

    >>> element_id("http://oxfordsemantic.tech/transactions/entities#party_1")
    'party_1'
    >>> element_id("http://example.org/x")
    'http://example.org/x'
    """
    return iri[len(ENT):] if iri.startswith(ENT) and len(iri) > len(ENT) else iri


def python_value(term: ox.Literal | ox.NamedNode | None) -> Any:
    """A literal as the Python value a property graph stores (bool, int, float, datetime, str)."""
    if term is None:
        return None
    if not isinstance(term, ox.Literal):
        return term.value
    dtype = term.datatype.value.rsplit("#", 1)[-1]
    text = term.value
    try:
        if dtype == "boolean":
            return text in ("true", "1")
        if dtype in ("integer", "int", "long", "short", "nonNegativeInteger", "positiveInteger"):
            return int(text)
        if dtype in ("decimal", "double", "float"):
            return float(text)
        if dtype == "dateTime":
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return text


_PREFIXES = f"PREFIX prop: <{PROP}> PREFIX type: <{TYPE}> PREFIX rdfs: <{RDFS}>\n"
_PARTIES = _PREFIXES + """SELECT ?p ?fullName ?name ?isInternal ?isExited ?isSuspicious WHERE {
  ?p a type:Party .
  OPTIONAL { ?p prop:hasFullName ?fullName } OPTIONAL { ?p rdfs:label ?name }
  OPTIONAL { ?p prop:isInternal ?isInternal } OPTIONAL { ?p prop:isExited ?isExited }
  OPTIONAL { ?p prop:isSuspicious ?isSuspicious } }"""
_TRANSFERS = _PREFIXES + """SELECT ?t ?from ?to ?amount ?date WHERE {
  ?t a type:Transaction ; prop:hasOriginator ?from ; prop:hasBeneficiary ?to .
  OPTIONAL { ?t prop:hasAmount ?amount } OPTIONAL { ?t prop:hasDate ?date } }"""
_CHAINS = _PREFIXES + """SELECT ?c ?from ?to ?length ?startDate ?endDate ?startingAmount
  ?finalAmount ?minimumAmount ?first ?last ?parent ?suspicious ?highValue WHERE {
  ?c a type:PartialChain .
  OPTIONAL { ?c prop:hasOriginator ?from } OPTIONAL { ?c prop:hasBeneficiary ?to }
  OPTIONAL { ?c prop:hasLength ?length }
  OPTIONAL { ?c prop:hasStartDate ?startDate } OPTIONAL { ?c prop:hasEndDate ?endDate }
  OPTIONAL { ?c prop:hasStartingAmount ?startingAmount }
  OPTIONAL { ?c prop:hasFinalAmount ?finalAmount }
  OPTIONAL { ?c prop:hasMinimumAmount ?minimumAmount }
  OPTIONAL { ?c prop:hasFirstTransaction ?first } OPTIONAL { ?c prop:hasLastTransaction ?last }
  OPTIONAL { ?c prop:derivedFrom ?parent }
  BIND(EXISTS { ?c a type:SuspiciousChain } AS ?suspicious)
  BIND(EXISTS { ?c a type:HighValueChain } AS ?highValue) }"""


def _props(solution: ox.QuerySolution, names: list[str]) -> Props:
    out = {}
    for name in names:
        value = python_value(solution[name])
        if value is not None:
            out[name] = value
    return out


@dataclass
class PropertyGraph:
    """Vertices then edges of one job (endpoints of every edge are among the vertices)."""

    vertices: list[Vertex]
    edges: list[Edge]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for el in [*self.vertices, *self.edges]:
            out[el.label] = out.get(el.label, 0) + 1
        return out


def build(job: JobFiles) -> PropertyGraph:
    """Maps a job's input data and derived chains to vertices and edges."""
    # in memory: the mapping never depends on a store having been loaded
    store = memory_store([*(i.path for i in job.inputs), job.derived])
    vertices: dict[str, Vertex] = {}
    edges: list[Edge] = []
    for s in store.query(_PARTIES):
        vid = element_id(s["p"].value)
        props = {"iri": s["p"].value, **_props(s, ["fullName", "name", "isInternal", "isExited", "isSuspicious"])}
        vertices[vid] = Vertex(vid, "party", props)
    transfers: dict[str, Edge] = {}
    for s in store.query(_TRANSFERS):
        eid = element_id(s["t"].value)
        props = {"iri": s["t"].value, **_props(s, ["amount", "date"])}
        transfers[eid] = Edge(eid, "transfer", element_id(s["from"].value), element_id(s["to"].value), props)
    edges.extend(transfers.values())
    chains: list[tuple[str, str | None, str | None, str | None]] = []  # (id, parent, last, first)
    for s in store.query(_CHAINS):
        cid = element_id(s["c"].value)
        props = {"iri": s["c"].value, "job": job.job_id,
                 **_props(s, ["length", "startDate", "endDate", "startingAmount", "finalAmount",
                              "minimumAmount", "suspicious", "highValue"])}
        vertices[cid] = Vertex(cid, "chain", props)
        for role in ("from", "to"):
            if s[role] is not None:
                label = "originator" if role == "from" else "beneficiary"
                edges.append(Edge(f"{cid}:{label}", label, cid, element_id(s[role].value)))
        parent = element_id(s["parent"].value) if s["parent"] is not None else None
        if parent is not None:
            edges.append(Edge(f"{cid}:extends", "extends", cid, parent))
        chains.append((cid, parent, *(element_id(s[k].value) if s[k] is not None else None for k in ("last", "first"))))
    edges.extend(_members(chains, transfers))
    for e in edges:  # an endpoint the data never typed still needs a vertex
        for vid in (e.out_v, e.in_v):
            if vid not in vertices:
                vertices[vid] = Vertex(vid, "party" if e.label == "transfer" else "entity", {})
    return PropertyGraph(sorted(vertices.values(), key=lambda v: (v.label, v.id)), edges)


def _members(chains: list[tuple[str, str | None, str | None, str | None]],
             transfers: dict[str, Edge]) -> Iterator[Edge]:
    """``member`` edges: a chain's transfers in order (:func:`fincrime.jobfolder.chain_members`)."""
    nodes = pl.DataFrame(chains, schema=["node", "parent", "last", "first"], orient="row",
                         schema_overrides=dict.fromkeys(["node", "parent", "last", "first"], pl.String))
    walked = chain_members(nodes, nodes.select(pl.col("node").alias("chain")))
    for cid, tid, position in walked.iter_rows():
        t = transfers.get(tid)
        if t is None:
            continue
        yield Edge(f"{cid}:{position}", "member", cid, t.in_v,
                   {"position": position, "transaction": tid,
                    **{k: t.props[k] for k in ("amount", "date") if k in t.props}})
