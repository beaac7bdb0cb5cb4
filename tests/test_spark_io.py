"""Spark's distributed N-Triples reader on the W3C RDF 1.1 N-Triples syntax tests: the same
triples as the in-memory reader for every positive test, a clean error for every negative one."""

from __future__ import annotations

import pytest
from test_ntriples_w3c import NEGATIVE, POSITIVE, expected, needs_suite
from test_spark_support import spark_session

from fincrime.errors import SourceError


def spark_triples(paths: list[str]) -> list[tuple[str, str, str]]:
    """What the executor loads: the fast path's rows, and the marked lines by the strict parser."""
    from fincrime.engine.spark.io import parse_marked, read_ntriples

    rows = read_ntriples(spark_session(), paths).collect()
    fast = [(r["s"], r["p"], r["o"]) for r in rows if r["s"] is not None]
    return fast + [q[:3] for q in parse_marked([(r["p"], r["o"]) for r in rows if r["s"] is None])]


@needs_suite
def test_positive_syntax_tests_on_spark():
    for name, path in POSITIVE:
        assert sorted(spark_triples([str(path)])) == sorted(expected(path)), name


@needs_suite
@pytest.mark.parametrize(("name", "path"), NEGATIVE, ids=[n for n, _ in NEGATIVE])
def test_negative_syntax_tests_on_spark(name, path):
    with pytest.raises(SourceError) as info:
        spark_triples([str(path)])
    assert info.value.source == str(path) and info.value.line >= 1
