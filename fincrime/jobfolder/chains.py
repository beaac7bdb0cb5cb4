"""The chains of a job folder: their classes, and the one walk of their transfers.

The documented chain vocabulary (``rules/suspicious-chains.dlog``): chain nodes of the classes
:data:`CHAIN_CLASSES` (every other derived class is a finding), each with its last transaction
and ``prop:derivedFrom`` the chain it extends. :func:`chain_members` walks that back to the first
hop; the pictures, the console's alerts and the property-graph stores all read chains through it.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from fincrime.vocab import PROP, TYPE

PARTIAL_CHAIN = TYPE + "PartialChain"
SUSPICIOUS_CHAIN = TYPE + "SuspiciousChain"
HIGH_VALUE_CHAIN = TYPE + "HighValueChain"
#: Chain classes of the documented chain vocabulary; every other derived class is a finding.
CHAIN_CLASSES = (PARTIAL_CHAIN, SUSPICIOUS_CHAIN, HIGH_VALUE_CHAIN)
DERIVED_FROM = PROP + "derivedFrom"
FIRST_TRANSACTION = PROP + "hasFirstTransaction"
LAST_TRANSACTION = PROP + "hasLastTransaction"
#: Longest derivedFrom walk followed; guards against a cyclic derivedFrom in a broken file.
MAX_WALK = 10_000


def chain_counts(by_class: Mapping[str, int]) -> dict[str, int]:
    """Counts of the chain classes by local name, whatever form (IRI or prefixed name) the
    engine's counts use.

    >>> chain_counts({"http://x/classes#SuspiciousChain": 3, "type:PartialChain": 9})
    {'PartialChain': 9, 'SuspiciousChain': 3, 'HighValueChain': 0}
    """
    names = [c.rsplit("#", 1)[-1] for c in CHAIN_CLASSES]
    out = dict.fromkeys(names, 0)
    for key, n in by_class.items():
        for name in names:
            if key.endswith(("#" + name, ":" + name, "/" + name)) or key == name:
                out[name] += int(n)
    return out


def chain_members(nodes: pl.DataFrame, chains: pl.DataFrame) -> pl.DataFrame:
    """The transfers of compact chains, found by walking ``prop:derivedFrom`` back to the first hop.

    ``nodes``: one row per chain node, columns ``node``, ``parent`` (the chain it is derived
    from), ``last`` and ``first`` (its ``hasLastTransaction`` / ``hasFirstTransaction``), null
    where absent; ``chains``: column ``chain``, the chains whose members are wanted. Each node
    on the walk contributes its last transaction (the first one on a node that extends nothing,
    when it has no last). The walk is repeated joins, so 10,000 chains of 30 hops stay fast,
    and stops where a broken file's ``derivedFrom`` comes back to a node already on it.

    Returns ``chain, tx, position`` (1 = the first hop), ordered by chain and position.

    >>> nodes = pl.DataFrame({"node": ["c1", "c2", "c3"], "parent": [None, "c1", "c2"],
    ...                       "last": ["t1", "t2", "t3"], "first": ["t1", "t1", "t1"]})
    >>> chain_members(nodes, pl.DataFrame({"chain": ["c3", "c1"]})).rows()
    [('c1', 't1', 1), ('c3', 't1', 1), ('c3', 't2', 2), ('c3', 't3', 3)]
    """
    schema = {"chain": pl.String, "tx": pl.String, "position": pl.Int64}
    nodes = nodes.select("node", "parent", "last", "first").unique("node", keep="first", maintain_order=True)
    parent = nodes.select("node", "parent").drop_nulls("parent")
    hop = nodes.select(
        "node", pl.coalesce("last", pl.when(pl.col("parent").is_null()).then("first")).alias("tx")
    ).drop_nulls("tx")
    frontier = chains.select("chain", pl.col("chain").alias("node")).unique()
    seen = frontier
    steps = []
    for depth in range(MAX_WALK):
        if frontier.is_empty():
            break
        steps.append(frontier.with_columns(pl.lit(depth, dtype=pl.Int64).alias("depth")))
        frontier = (
            frontier.join(parent, on="node")
            .select("chain", pl.col("parent").alias("node"))
            .join(seen, on=["chain", "node"], how="anti")
        )
        seen = pl.concat([seen, frontier])
    if not steps:
        return pl.DataFrame(schema=schema)
    members = pl.concat(steps).join(hop, on="node")
    return (
        members.with_columns(
            pl.col("depth").rank("ordinal", descending=True).over("chain").cast(pl.Int64).alias("position")
        )
        .select("chain", "tx", "position")
        .sort("chain", "position")
    )


__all__ = ["CHAIN_CLASSES", "DERIVED_FROM", "FIRST_TRANSACTION", "HIGH_VALUE_CHAIN", "LAST_TRANSACTION",
           "MAX_WALK", "PARTIAL_CHAIN", "SUSPICIOUS_CHAIN", "chain_counts", "chain_members"]
