"""The RDFox dialect's constructs (issue 13) on Spark: every golden case of ``dialect_cases``
in one program and one run (each case in its own namespace), equal to the expected facts and
to the in-memory executor."""

from __future__ import annotations

from dialect_cases import CASES, derived, write_data
from test_spark_support import OPTIONS, spark_session

from fincrime.engine import materialize
from fincrime.rules import parse_program
from fincrime.rules.ast import Program


def test_every_dialect_case_on_spark(tmp_path):
    spark_session()
    program, files, bases = Program(), [], {}
    for i, (name, (rules, data, _)) in enumerate(CASES.items()):
        base = f"http://e/c{i}/"
        bases[name] = base
        program.rules += parse_program(rules, name, prefixes={"": base}).rules
        if data:
            files.append(write_data(tmp_path, name, data, base))
    spark = list(materialize(program, files, engine="spark", engine_options=OPTIONS).quads())
    memory = list(materialize(program, files).quads())
    assert sorted(spark, key=str) == sorted(memory, key=str)
    for name, base in bases.items():
        mine = [q for q in spark if q[0].startswith(f"<{base}")]
        assert derived(mine, base) == CASES[name][2], name
