"""Hand-made programs on the Spark executor: recursion, negation, aggregates, binds, filters,
inputs and outputs. Each result is checked against expected triples and the in-memory executor."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from test_spark_support import OPTIONS, spark_session

from fincrime.engine import materialize
from fincrime.engine.spark.session import SparkOptions, describe_spark_error, spark_errors
from fincrime.errors import FincrimeError, InputError, SourceError
from fincrime.rules import parse_program

E = "http://e/"
XSD = "http://www.w3.org/2001/XMLSchema#"
MATH = "http://www.w3.org/2005/xpath-functions/math#"

DATA = f"""\
<{E}a> <{E}pays> <{E}b> .
<{E}b> <{E}pays> <{E}c> .
<{E}c> <{E}pays> <{E}d> .
<{E}a> <{E}kind> <{E}A> .
<{E}b> <{E}kind> <{E}A> .
<{E}a> <{E}p> <{E}c> .
<{E}c> <{E}q> <{E}Z> .
<{E}b> <{E}p> <{E}d> .
<{E}a> <{E}amount> "1"^^<{XSD}integer> .
<{E}a> <{E}amount> "2"^^<{XSD}integer> .
<{E}b> <{E}amount> "2.5"^^<{XSD}decimal> .
<{E}b> <{E}amount> "0.25"^^<{XSD}decimal> .
<{E}a> <{E}name> "Ann \\"the\\" Payer\\nline" .
<{E}b> <{E}name> "bob"@EN .
<{E}a> <{E}when> "2024-03-01T10:00:00"^^<{XSD}dateTime> .
<{E}b> <{E}when> "2024-03-01T09:00:00-02:00"^^<{XSD}dateTime> .
"""

PROGRAM = """
[?y, :from, ?p] :- [:a, ?p, ?y] .
[?x, ?rel, ?y] :- [?y, :pays, ?x], BIND(:paidBy AS ?rel) .
[?x, :reaches, ?y] :- [?x, :pays, ?y] .
[?x, :reaches, ?z] :- [?x, :reaches, ?y], [?y, :pays, ?z] .
[?x, :neg1, :yes] :- [?x, :kind, :A], NOT [?x, :p, :c] .
[?x, :neg2, :yes] :- [?x, :kind, :A], NOT EXISTS ?y IN ([?x, :p, ?y], [?y, :q, :Z]) .
[?x, :stats, ?n], [?x, :total, ?s], [?x, :lo, ?lo], [?x, :hi, ?hi], [?x, :mean, ?m] :-
    AGGREGATE([?x, :amount, ?v] ON ?x BIND COUNT(?v) AS ?n BIND SUM(?v) AS ?s BIND MIN(?v) AS ?lo
              BIND MAX(?v) AS ?hi BIND AVG(?v) AS ?m) .
[:all, :count, ?n] :- AGGREGATE([?x, :reaches, ?y] BIND COUNT(*) AS ?n) .
[?x, :shout, ?u], [?x, :len, ?l], [?x, :part, ?p], [?x, :hash, ?h] :-
    [?x, :name, ?name], BIND(UCASE(?name) AS ?u), BIND(STRLEN(?name) AS ?l),
    BIND(SUBSTR(?name, 2, 3) AS ?p), BIND(SHA256(STR(?name)) AS ?h) .
[?x, :label, ?c] :- [?x, :name, ?name], FILTER(CONTAINS(LCASE(STR(?name)), "b")),
    BIND(CONCAT(STR(?x), "-", STR(?name)) AS ?c) .
[?x, :earlier, ?y] :- [?x, :when, ?d1], [?y, :when, ?d2], FILTER(?d1 < ?d2) .
[?x, :year, ?yr] :- [?x, :when, ?d], BIND(YEAR(?d) AS ?yr) .
[?x, :scaled, ?v2], [?x, :half, ?h] :- [?x, :amount, ?v], BIND(?v * 2 AS ?v2), BIND(?v / 2 AS ?h) .
[?x, :big, ?b] :- [?x, :amount, ?v], BIND(IF(?v > 1, "big", "small") AS ?b), FILTER(?v IN (1, 2.5)) .
[?x, :node, ?n] :- [?x, :kind, :A], BIND(IRI(MD5(CONCAT("n", STR(?x)))) AS ?n) .
[?x, :dbl, ?d] :- [?x, :amount, ?v], BIND(xsd:double(?v) / 4 AS ?d) .
[?x, :ln, ?l] :- [?x, :amount, ?v], BIND(math:log(?v) AS ?l) .
[?x, :band, ?b] :- [?x, :amount, ?v], BIND(FLOOR(math:log(?v) / math:log(3) + 1 / 6) AS ?b) .
"""


def _iri(local: str) -> str:
    return f"<{E}{local}>"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):  # type: ignore[no-untyped-def]
    spark_session()
    folder = tmp_path_factory.mktemp("programs")
    data = folder / "data.nt.gz"
    data.write_bytes(gzip.compress(DATA.encode()))
    program = parse_program(PROGRAM, prefixes={"": E, "xsd": XSD, "math": MATH}, source="programs.dlog", base=E + "node/")
    memory = materialize(program, [str(data)], engine="memory")
    spark = materialize(program, [str(data)], engine="spark", engine_options=OPTIONS)
    return memory, spark, folder


def _by_predicate(triples, local: str) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {(s, o) for s, p, o in triples if p == _iri(local)}


def test_spark_equals_memory(runs) -> None:  # type: ignore[no-untyped-def]
    memory, spark, _ = runs
    spk = sorted(spark.triples())
    assert len(spk) > 40
    assert sorted(memory.triples()) == spk


def test_recursion(runs) -> None:  # type: ignore[no-untyped-def]
    spark = runs[1]
    reaches = _by_predicate(spark.triples(), "reaches")
    assert reaches == {(_iri(a), _iri(b)) for a, b in ("ab", "ac", "ad", "bc", "bd", "cd")}
    assert _by_predicate(spark.triples(), "count") == {(_iri("all"), f'"6"^^<{XSD}integer>')}


def test_negation(runs) -> None:  # type: ignore[no-untyped-def]
    triples = list(runs[1].triples())
    assert _by_predicate(triples, "neg1") == {(_iri("b"), _iri("yes"))}
    assert _by_predicate(triples, "neg2") == {(_iri("b"), _iri("yes"))}


def test_aggregates_and_number_spelling(runs) -> None:  # type: ignore[no-untyped-def]
    triples = list(runs[1].triples())
    a, b = _iri("a"), _iri("b")
    assert _by_predicate(triples, "total") == {(a, f'"3"^^<{XSD}integer>'), (b, f'"2.75"^^<{XSD}decimal>')}
    assert _by_predicate(triples, "mean") == {(a, f'"1.5"^^<{XSD}decimal>'), (b, f'"1.375"^^<{XSD}decimal>')}
    assert _by_predicate(triples, "lo") == {(a, f'"1"^^<{XSD}integer>'), (b, f'"0.25"^^<{XSD}decimal>')}
    assert _by_predicate(triples, "hi") == {(a, f'"2"^^<{XSD}integer>'), (b, f'"2.5"^^<{XSD}decimal>')}
    assert (a, f'"0.5"^^<{XSD}decimal>') in _by_predicate(triples, "half")
    assert (b, f'"5.0"^^<{XSD}decimal>') in _by_predicate(triples, "scaled")
    assert (a, f'"2.5E-1"^^<{XSD}double>') in _by_predicate(triples, "dbl")


def test_math_log_extension_function(runs) -> None:  # type: ignore[no-untyped-def]
    triples = list(runs[1].triples())
    a = _iri("a")
    ln = _by_predicate(triples, "ln")
    assert (a, f'"0.0E0"^^<{XSD}double>') in ln  # log(1)
    assert len({s for s, _ in ln}) == 2
    assert (a, f'"0.0E0"^^<{XSD}double>') in _by_predicate(triples, "band")


def test_strings_dates_and_escapes(runs) -> None:  # type: ignore[no-untyped-def]
    triples = list(runs[1].triples())
    a, b = _iri("a"), _iri("b")
    assert (a, '"ANN \\"THE\\" PAYER\\nLINE"') in _by_predicate(triples, "shout")
    assert (b, '"BOB"@en') in _by_predicate(triples, "shout")
    assert (a, f'"20"^^<{XSD}integer>') in _by_predicate(triples, "len")
    # 09:00-02:00 is 11:00 UTC, after 10:00 UTC
    assert _by_predicate(triples, "earlier") == {(a, b)}
    assert _by_predicate(triples, "label") == {(b, f'"{E}b-bob"')}
    assert len(_by_predicate(triples, "node")) == 2


def test_outputs(runs) -> None:  # type: ignore[no-untyped-def]
    memory, spark, folder = runs
    n = spark.write_ntriples(folder / "derived.nt.gz")
    assert n == memory.count() == spark.count()
    lines = gzip.decompress((folder / "derived.nt.gz").read_bytes()).decode().splitlines()
    assert sorted(lines) == sorted(f"{s} {p} {o} ." for s, p, o in spark.triples())
    spark.write_parts(str(folder / "parts"), "nt.gz")
    text = b"".join(gzip.decompress(p.read_bytes()) for p in (folder / "parts").glob("part-*.gz"))
    assert sorted(text.decode().splitlines()) == sorted(lines)
    spark.write_parts(str(folder / "pq"), "parquet")
    import pyarrow.parquet as pq

    assert pq.read_table(folder / "pq").num_rows == n
    with pytest.raises(InputError, match="already exists"):
        spark.write_parts(str(folder / "pq"), "parquet")


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    spark_session()
    bad = tmp_path / "bad.nt"
    bad.write_text(f"<{E}a> <{E}p> <{E}b> .\n<{E}a> <{E}p> oops .\n")
    program = parse_program("[?x, :r, ?y] :- [?x, :p, ?y] .", prefixes={"": E})
    with pytest.raises(SourceError, match=r"bad\.nt:2:"):
        materialize(program, [str(bad)], engine="spark", engine_options=OPTIONS)


def test_escaped_literals_take_the_strict_path(tmp_path: Path) -> None:
    spark_session()
    data = tmp_path / "esc.nt"
    data.write_text(f'<{E}a> <{E}name> "tab\\there \\u00e9"^^<{XSD}string> .\n')
    program = parse_program("[?x, :n2, ?n] :- [?x, :name, ?n] .", prefixes={"": E})
    spark = materialize(program, [str(data)], engine="spark", engine_options=OPTIONS)
    assert list(spark.triples()) == [(_iri("a"), _iri("n2"), '"tab\there é"')]


def test_options_and_error_lines() -> None:
    with pytest.raises(InputError, match="unknown Spark engine option"):
        SparkOptions.parse({"masterr": "local"})
    with pytest.raises(InputError, match="partitions"):
        SparkOptions.parse({"partitions": 0})
    assert SparkOptions.parse({"master": "local[3]"}).resources(0).partitions == 6
    oom = describe_spark_error(RuntimeError("java.lang.OutOfMemoryError: Java heap space"), "reasoning")
    assert isinstance(oom, FincrimeError) and "out of memory" in oom.one_line() and "hint" in oom.one_line()
    lost = describe_spark_error(RuntimeError("ExecutorLostFailure (executor 1 exited)"), "reasoning")
    assert "executor was lost" in lost.one_line()
    rpc = describe_spark_error(RuntimeError(
        "Job aborted due to stage failure: Task 3 in stage 7.0 failed 4 times, most recent failure: "
        "ExecutorLostFailure (executor 0 exited caused by one of the running tasks) Reason: Remote RPC client "
        "disassociated. Likely due to containers exceeding thresholds"), "reasoning")
    assert rpc.one_line().startswith("reasoning failed: a Spark executor was lost (hint: check the worker logs")
    block = describe_spark_error(RuntimeError(
        "Checkpoint block rdd_41_2 not found! Either the executor that originally checkpointed this partition "
        "is no longer alive, or the original RDD is unpersisted."), "reasoning")
    assert "lost with its executor" in block.one_line() and "checkpoint_dir" in block.one_line()
    killed = describe_spark_error(RuntimeError("Container killed by YARN for exceeding memory limits"), "reasoning")
    assert "out of memory" in killed.one_line() and "--memory" in killed.one_line()
    stopped = describe_spark_error(RuntimeError(
        "An error occurred while calling o57925.localCheckpoint.\n: java.lang.IllegalStateException: "
        "Cannot call methods on a stopped SparkContext."), "reasoning")
    assert "stopped in the middle" in stopped.one_line() and "--memory" in stopped.one_line()
    for error in (oom, lost, rpc, block, killed, stopped):
        assert "\n" not in error.one_line()
    with pytest.raises(FincrimeError) as gone, spark_errors("reasoning"):
        raise ConnectionRefusedError(111, "Connection refused")
    assert gone.value.one_line().startswith("reasoning failed: Spark's Java process went away") and "dmesg" in gone.value.one_line()
    other = describe_spark_error(RuntimeError("boom\nat line"), "reading the data")
    assert other.one_line().startswith("reading the data failed: Spark error: boom")


def test_stored_frames_start_with_fresh_size_estimates() -> None:
    """A checkpoint would keep its plan's size estimate, and a join's estimate is the product of
    its inputs': over rounds of join-then-store the digits multiply (minutes of BigInt
    arithmetic in the driver by round 7 of the 10k sample). Stored frames start afresh."""
    from fincrime.engine.spark.checkpoints import Checkpointer

    spark = spark_session()
    store = Checkpointer(spark, reliable=False)
    edges = store(spark.range(50).selectExpr("id AS k", "id * 2 AS v"))
    frame = store(spark.range(20).selectExpr("id AS k"))
    for _ in range(8):
        frame = store(frame.join(edges, "k").join(frame, "k").selectExpr("k"))
    digits = len(str(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes()))
    assert digits <= 20 and frame.count() == 20 and store.stored == 10
