"""Load a job output folder (manifest, results and their context: see :mod:`fincrime.jobfolder`) into :class:`JobData`.

Chains come in two shapes and both are read:

* compact (``rules/suspicious-chains.dlog``): each chain node carries ``prop:hasLastTransaction``
  and ``prop:derivedFrom`` the chain it extends, so the hops are found by walking ``derivedFrom``
  back to the first hop (:func:`fincrime.jobfolder.chain_members`);
* seed (the reference rule files): ``prop:containsTransaction`` on every chain for each of its
  transactions, which are then put in time order.

The *reported* chains are the ``SuspiciousChain`` / ``HighValueChain`` ones; a job whose rules
flag none reports its maximal partial chains instead (with a note saying so).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from fincrime.errors import InputError
from fincrime.evidence import ALERT_PREDICATES, read_alerts
from fincrime.jobfolder import (
    MANIFEST,
    RESULTS,
    context_path,
    input_files,
    read_manifest,
    results_path,
)
from fincrime.jobfolder.chains import (
    CHAIN_CLASSES,
    HIGH_VALUE_CHAIN,
    PARTIAL_CHAIN,
    SUSPICIOUS_CHAIN,
    chain_members,
)
from fincrime.rdf import read_ntriples as read_terms
from fincrime.rdf.columns import bare, lexical
from fincrime.rdf.columns import iri_value as iri
from fincrime.rdf.terms import unescape_string as unescape
from fincrime.scoring import attempts_from_triples, read_attempts, truth_files
from fincrime.viz.model import (
    Attempt,
    Chain,
    JobData,
    Party,
    Transfer,
    assign_slugs,
    local_name,
)
from fincrime.vocab import PROP, RDF_TYPE, RDFS

HAS_ORIGINATOR = PROP + "hasOriginator"
HAS_BENEFICIARY = PROP + "hasBeneficiary"
HAS_AMOUNT = PROP + "hasAmount"
HAS_DATE = PROP + "hasDate"
IS_SUSPICIOUS = PROP + "isSuspicious"
IS_INTERNAL = PROP + "isInternal"
HAS_FULL_NAME = PROP + "hasFullName"
LABEL = RDFS + "label"
HAS_TYPOLOGY = PROP + "hasTypology"
INVOLVES_TRANSACTION = PROP + "involvesTransaction"
INVOLVES_PARTY = PROP + "involvesParty"
CONTAINS_TRANSACTION = PROP + "containsTransaction"

_TX_PREDS = {HAS_ORIGINATOR: "originator", HAS_BENEFICIARY: "beneficiary", HAS_AMOUNT: "amount", HAS_DATE: "date"}
_PARTY_PREDS = (IS_SUSPICIOUS, IS_INTERNAL, HAS_FULL_NAME, LABEL)
_GT_PREDS = (HAS_TYPOLOGY, INVOLVES_TRANSACTION, INVOLVES_PARTY)
_CHAIN_PROPS = {
    PROP + name: name
    for name in (
        "hasOriginator",
        "hasBeneficiary",
        "hasLength",
        "hasStartDate",
        "hasEndDate",
        "hasStartingAmount",
        "hasFinalAmount",
        "hasMinimumAmount",
        "hasFirstTransaction",
        "hasLastTransaction",
        "derivedFrom",
    )
}

_cache: dict[Path, tuple[tuple[Any, ...], JobData]] = {}


def _signature(job_dir: Path, files: list[Path]) -> tuple[Any, ...]:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), None, None))
    return tuple(out)


def load_job(job_dir: str | Path) -> JobData:
    """Read a job folder: its kept results and their context (the input facts about what the
    results mention), or, in folders without a context, the whole input. The last result is
    cached until one of its files changes."""
    job_dir = Path(job_dir).resolve()
    manifest = read_manifest(job_dir)
    context = context_path(job_dir)
    data_paths = [context] if context is not None else [Path(i["path"]) for i in input_files(manifest, "data")]
    derived_path = results_path(job_dir) or job_dir / RESULTS
    truth_paths = truth_files(manifest)
    sig = _signature(job_dir, [job_dir / MANIFEST, derived_path, *data_paths, *truth_paths])
    hit = _cache.get(job_dir)
    if hit and hit[0] == sig:
        return hit[1]
    for p in data_paths:
        if not p.is_file():
            raise InputError(f"{job_dir / MANIFEST}: input data file {p} is missing")
    if not derived_path.is_file():
        raise InputError(f"{derived_path}: missing; the job has no results (did it finish?)")
    data = _read_data(data_paths)
    derived = read_ntriples(derived_path)
    job = _build(job_dir, manifest, data, derived)
    known = {a.iri for a in job.attempts}
    job.attempts += [a for p in truth_paths if p not in data_paths for a in read_attempts(p) if a.iri not in known]
    _cache.clear()
    _cache[job_dir] = (sig, job)
    return job


def read_ntriples(path: Path, predicates: list[str] | None = None) -> pl.DataFrame:
    """Triples of a file with bare subject and predicate IRIs (objects stay terms)."""
    wanted = None if predicates is None else [f"<{p}>" for p in predicates]
    return read_terms([path], predicates=wanted).select(bare("s"), bare("p"), "o")


def _read_data(paths: list[Path]) -> pl.DataFrame:
    wanted = [*_TX_PREDS, *_PARTY_PREDS, *_GT_PREDS]
    frames = [read_ntriples(p, predicates=wanted) for p in paths]
    if not frames:
        return pl.DataFrame(schema={"s": pl.String, "p": pl.String, "o": pl.String})
    return pl.concat(frames)


def _transactions(data: pl.DataFrame) -> pl.DataFrame:
    # Only input data: chain nodes in the results also carry hasOriginator/hasBeneficiary.
    rows = data.filter(pl.col("p").is_in(list(_TX_PREDS))).select(
        pl.col("s").alias("tx"),
        pl.col("p").replace_strict(_TX_PREDS, return_dtype=pl.String).alias("field"),
        pl.when(pl.col("p").is_in([HAS_ORIGINATOR, HAS_BENEFICIARY]))
        .then(iri("o"))
        .otherwise(lexical("o"))
        .alias("v"),
    )
    schema = {"tx": pl.String, "originator": pl.String, "beneficiary": pl.String, "amount": pl.Float64, "date": pl.String}
    if rows.is_empty():
        return pl.DataFrame(schema=schema)
    wide = rows.pivot(on="field", index="tx", values="v", aggregate_function="first")
    for col in ("originator", "beneficiary", "amount", "date"):
        if col not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    return (
        wide.select(
            "tx", "originator", "beneficiary", pl.col("amount").cast(pl.Float64, strict=False), "date"
        )
        .filter(pl.col("originator").is_not_null() & pl.col("beneficiary").is_not_null())
        .with_columns(pl.col("amount").fill_null(0.0), pl.col("date").fill_null(""))
    )


def _parties(data: pl.DataFrame) -> dict[str, Party]:
    rows = data.filter(pl.col("p").is_in(list(_PARTY_PREDS))).select("s", "p", lexical("o").alias("v"))
    names: dict[str, str] = {}
    labels: dict[str, str] = {}
    suspicious: set[str] = set()
    internal: dict[str, bool] = {}
    for s, p, v in rows.iter_rows():
        if "\\" in v:
            v = unescape(v)
        if p == HAS_FULL_NAME:
            names[s] = v
        elif p == LABEL:
            labels.setdefault(s, v)
        elif p == IS_INTERNAL:
            internal[s] = v in ("true", "1")
        elif v in ("true", "1"):
            suspicious.add(s)
    everyone = set(names) | set(labels) | suspicious | set(internal) | {s for s, p, _ in rows.iter_rows() if p == IS_SUSPICIOUS}
    return {
        s: Party(s, names.get(s) or labels.get(s) or local_name(s), s in suspicious, internal.get(s))
        for s in everyone
    }


def _attempts(data: pl.DataFrame) -> list[Attempt]:
    rows = data.filter(pl.col("p").is_in(list(_GT_PREDS))).select("s", "p", lexical("o").alias("v"))
    return attempts_from_triples(rows.iter_rows())


def _chain_table(derived: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(types of chain nodes, one row per chain node with its properties)."""
    types = derived.filter(pl.col("p") == RDF_TYPE).select("s", iri("o").alias("cls"))
    chain_types = types.filter(pl.col("cls").is_in(list(CHAIN_CLASSES)))
    props = derived.filter(pl.col("p").is_in(list(_CHAIN_PROPS))).join(
        chain_types.select("s").unique(), on="s", how="semi"
    )
    table = chain_types.select("s").unique()
    if not props.is_empty():
        wide = props.select(
            "s",
            pl.col("p").replace_strict(_CHAIN_PROPS, return_dtype=pl.String).alias("field"),
            lexical("o").alias("v"),
        ).pivot(on="field", index="s", values="v", aggregate_function="first")
        table = table.join(wide, on="s", how="left")
    for col in _CHAIN_PROPS.values():
        if col not in table.columns:
            table = table.with_columns(pl.lit(None, dtype=pl.String).alias(col))
    return chain_types, table


def _walk_compact(reported: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """(chain, tx, order) for compact chains."""
    nodes = table.select(pl.col("s").alias("node"), pl.col("derivedFrom").alias("parent"),
                         pl.col("hasLastTransaction").alias("last"), pl.col("hasFirstTransaction").alias("first"))
    members = chain_members(nodes, reported.select(pl.col("s").alias("chain")))
    return members.select("chain", "tx", pl.col("position").alias("order"))


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v is not None else None
    except ValueError:
        return None


def _build(job_dir: Path, manifest: dict[str, Any], data: pl.DataFrame, derived: pl.DataFrame) -> JobData:
    notes: list[str] = []
    transactions = _transactions(data)
    parties = _parties(data)
    chain_types, table = _chain_table(derived)
    counts = {local_name(c): n for c, n in chain_types.group_by("cls").len().iter_rows()}

    flagged = chain_types.filter(pl.col("cls").is_in([SUSPICIOUS_CHAIN, HIGH_VALUE_CHAIN])).select("s").unique()
    if flagged.is_empty() and not table.is_empty():
        extended = table.select(pl.col("derivedFrom").alias("s")).drop_nulls().unique()
        flagged = table.select("s").join(extended, on="s", how="anti")
        notes.append(
            f"No SuspiciousChain in this job: showing the {flagged.height:,} maximal partial chains instead."
        )
    reported = table.join(flagged, on="s", how="semi")

    seed = (
        derived.filter(pl.col("p") == CONTAINS_TRANSACTION)
        .select(pl.col("s").alias("chain"), iri("o").alias("tx"))
        .join(reported.select(pl.col("s").alias("chain")), on="chain", how="semi")
    )
    compact = _walk_compact(reported.join(seed.select(pl.col("chain").alias("s")).unique(), on="s", how="anti"), table)
    members = pl.concat(
        [compact, seed.with_columns(pl.lit(0, dtype=pl.Int64).alias("order"))], how="vertical"
    )
    joined = members.join(transactions, on="tx", how="left")
    missing = joined.filter(pl.col("originator").is_null())
    if not missing.is_empty():
        notes.append(
            f"{missing['tx'].n_unique():,} transactions referenced by chains are not in the job's "
            "input data; those hops are left out."
        )
    hops: dict[str, list[Transfer]] = {}
    for chain, tx, _o, orig, ben, amount, date in (
        joined.filter(pl.col("originator").is_not_null())
        .sort(["chain", "order", "date", "tx"])
        .select("chain", "tx", "order", "originator", "beneficiary", "amount", "date")
        .iter_rows()
    ):
        hops.setdefault(chain, []).append(Transfer(tx, orig, ben, amount, date))

    seed_chains = set(seed["chain"].unique().to_list())
    classes: dict[str, list[str]] = {}
    for s, cls in chain_types.join(flagged, on="s", how="semi").iter_rows():
        classes.setdefault(s, []).append(cls)
    chains = [
        _chain(row, hops.get(row["s"], []), classes.get(row["s"], [PARTIAL_CHAIN]), row["s"] in seed_chains)
        for row in reported.iter_rows(named=True)
    ]
    chains.sort(key=lambda c: (-c.bottleneck, -c.length, c.iri))
    assign_slugs(chains)

    chain_nodes = chain_types.select("s").unique()
    findings_df = (
        derived.filter(pl.col("p") == RDF_TYPE)
        .select("s", iri("o").alias("cls"))
        .filter(pl.col("cls").is_not_null() & ~pl.col("cls").is_in(list(CHAIN_CLASSES)))
        .join(chain_nodes, on="s", how="anti")
        .unique()
        .sort(["cls", "s"])
    )
    # A typology finding flags an input entity (a party or a transaction); classes of nodes the
    # rules mint themselves (paths, windows) are intermediate results, not findings.
    entities = set(parties) | set(transactions["tx"].to_list())
    findings: dict[str, list[str]] = {}
    for s, cls in findings_df.iter_rows():
        if s in entities:
            findings.setdefault(cls, []).append(s)

    alert_rows = derived.filter(pl.col("p").is_in(list(ALERT_PREDICATES))).select("s", "p", lexical("o"))
    return JobData(
        alerts=read_alerts(alert_rows.iter_rows()),
        job_dir=job_dir,
        manifest=manifest,
        chains=chains,
        chain_counts=counts,
        parties=parties,
        transactions=transactions,
        findings=findings,
        attempts=_attempts(data),
        notes=notes,
    )


def _chain(row: dict[str, Any], transfers: list[Transfer], classes: list[str], seed: bool) -> Chain:
    order = {c: i for i, c in enumerate(CHAIN_CLASSES)}
    amounts = [t.amount for t in transfers]
    bottleneck = _float(row["hasMinimumAmount"])
    if bottleneck is None:
        bottleneck = min(amounts) if amounts else 0.0
    length = int(_float(row["hasLength"]) or len(transfers))
    return Chain(
        iri=row["s"],
        classes=tuple(sorted(set(classes), key=lambda c: order.get(c, 99))),
        transfers=transfers,
        originator=row["hasOriginator"] or (transfers[0].originator if transfers else ""),
        beneficiary=row["hasBeneficiary"] or (transfers[-1].beneficiary if transfers else ""),
        length=length,
        bottleneck=bottleneck,
        starting_amount=_float(row["hasStartingAmount"]) if row["hasStartingAmount"] else (amounts[0] if amounts else None),
        final_amount=_float(row["hasFinalAmount"]) if row["hasFinalAmount"] else (amounts[-1] if amounts else None),
        start_date=row["hasStartDate"] or (transfers[0].date if transfers else ""),
        end_date=row["hasEndDate"] or (transfers[-1].date if transfers else ""),
        shape="seed" if seed else "compact",
    )
