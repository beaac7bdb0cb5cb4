"""The RDFox dialect's constructs (issue 13) materialize with RDFox's meaning in memory; the
same cases run on Spark in ``test_spark_dialect.py``."""

from __future__ import annotations

import pytest
from dialect_cases import CASES, derived, write_data

from fincrime.engine import materialize
from fincrime.rules import parse_program


@pytest.mark.parametrize("name", list(CASES))
def test_dialect_case_in_memory(tmp_path, name):
    rules, data, want = CASES[name]
    program = parse_program(rules, prefixes={"": "http://e/"})
    result = materialize(program, [write_data(tmp_path, name, data)])
    assert derived(result.quads()) == want


def test_results_keep_named_graphs_apart(tmp_path):
    rules, data, _ = CASES["named graphs"]
    result = materialize(parse_program(rules, prefixes={"": "http://e/"}), [write_data(tmp_path, "g", data)])
    default_only = {t for t in derived((*t, None) for t in result.triples())}
    assert all(len(t) == 3 for t in default_only) and (":a", "a", ":Both") in default_only
    assert result.counts_by_graph()["<http://e/H>"] == 3
    assert result.counts_by_class() == {"http://e/Both": 1}
    nt, nq = tmp_path / "d.nt", tmp_path / "d.nq.gz"
    assert result.write_ntriples(nt) == result.count()
    assert result.write_ntriples(nq) == sum(result.counts_by_graph().values())
    from fincrime.rdf import read_dataset

    assert derived(read_dataset([nq]).rows()) == derived(result.quads())
