"""Batches of parties and transactions, and their N-Triples form (reference vocabulary).

A party is six triples and a transaction five, grouped by subject, in this order::

    :party_<hex> a type:Party ; prop:isInternal "true"^^xsd:boolean ;
        prop:isExited ... ; prop:isSuspicious ... ; prop:hasFullName "Ann Lee" ; rdfs:label "Ann Lee" .
    :transaction_<hex> a type:Transaction ; prop:hasOriginator :party_<hex> ;
        prop:hasBeneficiary :party_<hex> ; prop:hasDate "2024-06-30T09:15:02"^^xsd:dateTime ;
        prop:hasAmount "12.50"^^xsd:decimal .
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fincrime.generator.textcodec import (
    RecordLayout,
    amount_matrix,
    choose_text,
    datetime_matrix,
    left_align,
)
from fincrime.vocab import ENT, PROP, RDF_TYPE, RDFS, TYPE, XSD

ID_WIDTH = 32
AMOUNT_SLOT = 22  # up to 18 integer digits, a dot and two decimals


@dataclass
class PartyBatch:
    """Consecutive parties; ``names`` is a zero-padded ``(n, w)`` byte matrix."""

    ids: np.ndarray
    internal: np.ndarray
    exited: np.ndarray
    suspicious: np.ndarray
    names: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class TransactionBatch:
    """Consecutive transactions; party columns are ``(n, 32)`` hex ids, amounts in cents."""

    ids: np.ndarray
    originator: np.ndarray
    beneficiary: np.ndarray
    cents: np.ndarray
    seconds: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def _iri(base: str, local: str = "") -> bytes:
    return f"<{base}{local}>".encode()


_PARTY = f"<{ENT}party_".encode()
_TX = f"<{ENT}transaction_".encode()
_BOOL = f'"^^<{XSD}boolean> .\n'.encode()


def party_layout(name_width: int) -> RecordLayout:
    """The six lines of a party; ``name_width`` is the widest name the batch may hold."""
    subject: list[bytes | tuple[str, int]] = [_PARTY, ("id", ID_WIDTH), b"> "]
    lines: list[bytes | tuple[str, int]] = []
    lines += [*subject, _iri(RDF_TYPE), b" ", _iri(TYPE, "Party"), b" .\n"]
    for prop, field in (
        ("isInternal", "internal"),
        ("isExited", "exited"),
        ("isSuspicious", "suspicious"),
    ):
        lines += [*subject, _iri(PROP, prop), b' "', (field, 5), _BOOL]
    for pred in (_iri(PROP, "hasFullName"), _iri(RDFS, "label")):
        lines += [*subject, pred, b' "', ("name", name_width), b'" .\n']
    return RecordLayout(lines, variable={"internal", "exited", "suspicious", "name"})


_AMOUNT_SUFFIX = f'"^^<{XSD}decimal> .\n'.encode()
AMOUNT_TAIL = AMOUNT_SLOT + len(_AMOUNT_SUFFIX)


def transaction_layout() -> RecordLayout:
    """The five lines of a transaction; the amount line ends the record so it can vary."""
    subject: list[bytes | tuple[str, int]] = [_TX, ("id", ID_WIDTH), b"> "]
    return RecordLayout(
        [
            *subject, _iri(RDF_TYPE), b" ", _iri(TYPE, "Transaction"), b" .\n",
            *subject, _iri(PROP, "hasOriginator"), b" ", _PARTY, ("originator", ID_WIDTH), b"> .\n",
            *subject, _iri(PROP, "hasBeneficiary"), b" ", _PARTY, ("beneficiary", ID_WIDTH), b"> .\n",
            *subject, _iri(PROP, "hasDate"), b' "', ("date", 19),
            f'"^^<{XSD}dateTime> .\n'.encode(),
            *subject, _iri(PROP, "hasAmount"), b' "', ("amount", AMOUNT_TAIL),
        ],
        variable={"amount"},
    )  # fmt: skip


_TX_LAYOUT = transaction_layout()


def render_parties(batch: PartyBatch, layout: RecordLayout) -> np.ndarray:
    """N-Triples bytes (flat ``uint8``) of a party batch."""
    return layout.render(
        len(batch),
        id=batch.ids,
        internal=choose_text(batch.internal, b"true", b"false"),
        exited=choose_text(batch.exited, b"true", b"false"),
        suspicious=choose_text(batch.suspicious, b"true", b"false"),
        name=batch.names,
    )


def render_transactions(batch: TransactionBatch, *, whole_units: bool) -> np.ndarray:
    """N-Triples bytes (flat ``uint8``) of a transaction batch."""
    return _TX_LAYOUT.render(
        len(batch),
        id=batch.ids,
        originator=batch.originator,
        beneficiary=batch.beneficiary,
        amount=left_align(
            amount_matrix(batch.cents, whole_units=whole_units), _AMOUNT_SUFFIX, AMOUNT_TAIL
        ),
        date=datetime_matrix(batch.seconds),
    )
