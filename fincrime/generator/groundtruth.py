"""Ground truth of the injected attempts: ``ground-truth.nt`` and ``ground-truth.csv``.

N-Triples, one node per attempt (vocabulary of docs/ARCHITECTURE.md)::

    :attempt_<hex> a type:LaunderingAttempt ; prop:hasTypology "layering" ;
        prop:involvesTransaction :transaction_<hex> , ... ; prop:involvesParty :party_<hex> , ... .

CSV, one row per injected transaction, in attempt then step (time) order, identifiers as local
names: ``attempt,typology,step,transaction,originator,beneficiary,amount,date``.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from fincrime.generator.randomness import Stream, entity_ids
from fincrime.generator.textcodec import amount_matrix, datetime_matrix, squeeze_rows
from fincrime.generator.typologies import Plan
from fincrime.vocab import ENT, PROP, RDF_TYPE, TYPE

CSV_COLUMNS = (
    "attempt",
    "typology",
    "step",
    "transaction",
    "originator",
    "beneficiary",
    "amount",
    "date",
)


def _hex(matrix: np.ndarray) -> list[str]:
    return [bytes(row).decode("ascii") for row in matrix]


def ground_truth_text(
    seed: int, plan: Plan, party_ids: np.ndarray, *, whole_units: bool
) -> tuple[bytes, bytes]:
    """The N-Triples and CSV bytes of the plan's ground truth."""
    attempts = _hex(
        entity_ids(seed, Stream.ATTEMPT_ID, np.arange(len(plan.typology), dtype=np.uint64))
    )
    order = np.lexsort((plan.step, plan.attempt))
    tx = _hex(entity_ids(seed, Stream.TRANSACTION_ID, plan.position[order].astype(np.uint64)))
    orig = _hex(party_ids[plan.originator[order]])
    ben = _hex(party_ids[plan.beneficiary[order]])
    amounts = [
        b.decode() for b in squeeze_rows(amount_matrix(plan.cents[order], whole_units=whole_units))
    ]
    dates = [bytes(r).decode() for r in datetime_matrix(plan.seconds[order])]
    attempt_of, step_of = plan.attempt[order], plan.step[order]

    by_attempt: list[list[int]] = [[] for _ in attempts]
    for row, a in enumerate(attempt_of):
        by_attempt[int(a)].append(row)

    nt = io.StringIO()
    has_typology, involves_tx, involves_party = (
        f"<{PROP}hasTypology>",
        f"<{PROP}involvesTransaction>",
        f"<{PROP}involvesParty>",
    )
    for a, hexid in enumerate(attempts):
        s = f"<{ENT}attempt_{hexid}>"
        nt.write(f"{s} <{RDF_TYPE}> <{TYPE}LaunderingAttempt> .\n")
        nt.write(f'{s} {has_typology} "{plan.typology[a]}" .\n')
        for row in by_attempt[a]:
            nt.write(f"{s} {involves_tx} <{ENT}transaction_{tx[row]}> .\n")
        for party in _hex(party_ids[plan.parties[a]]):
            nt.write(f"{s} {involves_party} <{ENT}party_{party}> .\n")

    table = io.StringIO()
    out = csv.writer(table, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for a, hexid in enumerate(attempts):
        for row in by_attempt[a]:
            out.writerow(
                [
                    f"attempt_{hexid}",
                    plan.typology[a],
                    int(step_of[row]),
                    f"transaction_{tx[row]}",
                    f"party_{orig[row]}",
                    f"party_{ben[row]}",
                    amounts[row],
                    dates[row],
                ]
            )
    return nt.getvalue().encode("ascii"), table.getvalue().encode("ascii")
