"""Spark and in-memory executors give byte-identical derived triples on generated data.

Every rule file of ``rules/`` and of the seed rules (``../shared/seed/rules``, skipped when
absent) runs on small generated datasets, one with typologies; CI runs this on local[2].
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_spark_support import OPTIONS, ROOT, SEED_RULES, dataset, spark_session

from fincrime.engine import materialize
from fincrime.rules import load_program

pytestmark = pytest.mark.spark

PROJECT = [ROOT / "rules" / "suspicious-chains.dlog", ROOT / "rules" / "high-value-chains.dlog"]


def _both(rules: list[Path], data: list[str], params: dict[str, object] | None = None, tmp: Path | None = None):  # type: ignore[no-untyped-def]
    spark_session()
    program = load_program([str(r) for r in rules], params=params)
    memory = materialize(program, data, engine="memory")
    spark = materialize(program, data, engine="spark", engine_options=OPTIONS)
    return memory, spark


def _assert_same_files(memory, spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, s = tmp_path / "memory.nt", tmp_path / "spark.nt"
    assert memory.write_ntriples(m) == spark.write_ntriples(s)
    assert sorted(m.read_bytes().splitlines()) == sorted(s.read_bytes().splitlines())
    assert memory.counts_by_class() == spark.counts_by_class()
    assert memory.counts_by_predicate() == spark.counts_by_predicate()
    assert memory.count() == spark.count()


@pytest.mark.slow  # about 10 minutes on 2 cores with local[2]: run with `make test-slow`
@pytest.mark.parametrize("name", ["orig", "typo"])
def test_project_rules_match_memory(name: str, tmp_path: Path) -> None:
    memory, spark = _both(PROJECT, dataset(name), {"maxChainLength": 2, "highValueThreshold": 2000})
    assert memory.counts_by_class().get("http://oxfordsemantic.tech/transactions/classes#PartialChain", 0) > 20
    _assert_same_files(memory, spark, tmp_path)


@pytest.mark.skipif(not SEED_RULES.is_dir(), reason="../shared/seed/rules is absent")
@pytest.mark.parametrize("rule", sorted(p.name for p in SEED_RULES.glob("*.dlog")) if SEED_RULES.is_dir() else [])
def test_seed_rules_match_memory(rule: str, tmp_path: Path) -> None:
    memory, spark = _both([SEED_RULES / rule], dataset("orig"))
    assert memory.count() > 0
    _assert_same_files(memory, spark, tmp_path)


@pytest.mark.slow  # generated data through Spark: minutes; run with `make test-slow`
def test_parquet_tables_give_the_same_triples_as_ntriples(tmp_path: Path) -> None:
    spark_session()
    program = load_program([str(p) for p in PROJECT], params={"maxChainLength": 2})
    memory = materialize(program, dataset("typo"), engine="memory")
    spark = materialize(program, dataset("typo", "parquet"), engine="spark", engine_options=OPTIONS)
    assert sorted(memory.triples(derived_only=False)) == sorted(spark.triples(derived_only=False))
