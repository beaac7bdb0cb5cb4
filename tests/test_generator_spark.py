"""The Parquet output is what Spark expects: decimal amounts, zone-less timestamps, all rows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from test_generator_support import data_files, ground_truth_rows, run
from test_spark_support import spark_session


@pytest.fixture(scope="module")
def spark() -> object:
    # the run's one session: a second builder here would start the JVM with Spark's 1 GiB
    # default heap, and every later session of the run reuses that JVM
    return spark_session()


@pytest.mark.spark
def test_spark_reads_the_parquet_tables(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = run(
        tmp_path, transactions=3_000, files=2, format="parquet", typologies="structuring=2:8"
    )
    txs = spark.read.parquet(*[str(p) for p in data_files(tmp_path, "transactions")])
    parties = spark.read.parquet(*[str(p) for p in data_files(tmp_path, "parties")])
    types = dict(txs.dtypes)
    assert types == {
        "id": "string",
        "originator": "string",
        "beneficiary": "string",
        "amount": "decimal(18,2)",
        "date": "timestamp_ntz",
    }
    assert txs.count() == 3_000 and parties.count() == report.parties
    assert txs.join(parties, txs.originator == parties.id).count() == 3_000
    structuring = {r["transaction"]: Decimal(r["amount"]) for r in ground_truth_rows(tmp_path)}
    rows = txs.where(txs.id.isin(list(structuring))).collect()
    assert {r["id"]: r["amount"] for r in rows} == structuring
    assert all(r["date"].tzinfo is None for r in rows)
