"""The Parquet form: ``parties`` and ``transactions`` tables for Spark and other columnar tools.

Same graph as the N-Triples form, one row per subject. Identifiers are the local names under
``http://oxfordsemantic.tech/transactions/entities#`` (``party_<hex>``, ``transaction_<hex>``;
the namespace is also in the schema metadata under ``fincrime.entities``). Amounts are
``decimal(18, 2)``; dates are ``timestamp[us]`` without a time zone, like the N-Triples
``xsd:dateTime`` values.

=============  ==================================================================
parties        id, is_internal, is_exited, is_suspicious, full_name (= rdfs:label)
transactions   id, originator, beneficiary, amount, date
=============  ==================================================================
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from fincrime.generator.records import PartyBatch, TransactionBatch
from fincrime.generator.textcodec import padded_to_strings
from fincrime.vocab import ENT

_META = {b"fincrime.entities": ENT.encode()}

PARTY_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("is_internal", pa.bool_(), nullable=False),
        pa.field("is_exited", pa.bool_(), nullable=False),
        pa.field("is_suspicious", pa.bool_(), nullable=False),
        pa.field("full_name", pa.string(), nullable=False),
    ],
    metadata=_META,
)

TRANSACTION_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("originator", pa.string(), nullable=False),
        pa.field("beneficiary", pa.string(), nullable=False),
        pa.field("amount", pa.decimal128(18, 2), nullable=False),
        pa.field("date", pa.timestamp("us"), nullable=False),
    ],
    metadata=_META,
)


def _local_names(prefix: bytes, ids: np.ndarray) -> pa.Array:
    n, width = ids.shape
    rows = np.empty((n, len(prefix) + width), dtype=np.uint8)
    rows[:, : len(prefix)] = np.frombuffer(prefix, dtype=np.uint8)
    rows[:, len(prefix) :] = ids
    offsets = np.arange(n + 1, dtype=np.int32) * rows.shape[1]
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rows)])


def _strings(padded: np.ndarray) -> pa.Array:
    offsets, data = padded_to_strings(padded)
    return pa.Array.from_buffers(
        pa.string(), len(padded), [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
    )


def _decimal(cents: np.ndarray) -> pa.Array:
    # decimal128 is a 16-byte little-endian two's complement of the unscaled value
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])


def party_table(batch: PartyBatch) -> pa.Table:
    return pa.Table.from_arrays(
        [
            _local_names(b"party_", batch.ids),
            pa.array(batch.internal),
            pa.array(batch.exited),
            pa.array(batch.suspicious),
            _strings(batch.names),
        ],
        schema=PARTY_SCHEMA,
    )


def transaction_table(batch: TransactionBatch) -> pa.Table:
    return pa.Table.from_arrays(
        [
            _local_names(b"transaction_", batch.ids),
            _local_names(b"party_", batch.originator),
            _local_names(b"party_", batch.beneficiary),
            _decimal(batch.cents),
            pa.array((batch.seconds * 1_000_000).astype("datetime64[us]")),
        ],
        schema=TRANSACTION_SCHEMA,
    )
