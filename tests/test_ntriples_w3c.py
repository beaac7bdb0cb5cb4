"""N-Triples conformance and hostile input: the W3C RDF 1.1 N-Triples syntax tests on every
reader path, damaged files, and fuzzed text (a result or one clean error, never another
exception). The Spark reader runs the same W3C tests in ``test_spark_programs.py``."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fincrime.errors import FincrimeError, InputError, SourceError
from fincrime.rdf import (
    literal,
    parse_document,
    parse_line,
    read_dataset,
    read_ntriples,
    write_nquads,
)
from fincrime.rdf.syntax import CANONICAL_LINE, FAST_LINE, SKIP_LINE

W3C = SHARED / "w3c" / "rdf11-n-triples"
RDFT = "http://www.w3.org/ns/rdftest#"
MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"


def manifest() -> list[tuple[str, bool, Path]]:
    """(test name, positive?, file) for every entry of the suite's manifest."""
    if not (W3C / "manifest.ttl").is_file():
        return []
    store = ox.Store()
    base = (W3C / "manifest.ttl").resolve().as_uri()
    store.load(path=str(W3C / "manifest.ttl"), format=ox.RdfFormat.TURTLE, base_iri=base)
    out = []
    for kind, positive in (("TestNTriplesPositiveSyntax", True), ("TestNTriplesNegativeSyntax", False)):
        rows = store.query(f"SELECT ?name ?file WHERE {{ ?t a <{RDFT}{kind}> ; <{MF}name> ?name ; <{MF}action> ?file }}")
        for row in rows:
            out.append((row["name"].value, positive, Path(row["file"].value.removeprefix("file://"))))
    return sorted(out)


TESTS = manifest()
needs_suite = pytest.mark.skipif(not TESTS, reason="../shared/w3c/rdf11-n-triples is not present")
POSITIVE = [(n, f) for n, pos, f in TESTS if pos] or [("none", Path())]
NEGATIVE = [(n, f) for n, pos, f in TESTS if not pos] or [("none", Path())]


def _term(t: ox.NamedNode | ox.BlankNode | ox.Literal) -> str:
    if isinstance(t, ox.NamedNode):
        return f"<{t.value}>"
    if isinstance(t, ox.BlankNode):
        return f"_:{t.value}"
    return literal(t.value, t.datatype.value, t.language)


def expected(path: Path) -> list[tuple[str, str, str]]:
    """The triples of a positive test by an independent parser (pyoxigraph), canonical."""
    return [(_term(q.subject), _term(q.predicate), _term(q.object)) for q in ox.parse(path=str(path), format=ox.RdfFormat.N_TRIPLES)]


def statements(path: Path) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1)
            if not re.match(SKIP_LINE, line)]


@needs_suite
def test_the_manifest_is_complete():
    assert len([t for t in TESTS if t[1]]) >= 40 and len([t for t in TESTS if not t[1]]) >= 29
    assert {"nt-syntax-bad-bnode-01", "nt-syntax-bad-bnode-02"} <= {n for n, _, _ in TESTS}


@needs_suite
@pytest.mark.parametrize(("name", "path"), POSITIVE, ids=[n for n, _ in POSITIVE])
def test_positive_syntax_tests_give_the_expected_triples(name, path):
    want = expected(path)
    assert read_ntriples([path]).rows() == want  # the reader: canonical / fast / strict tiers
    assert sorted(read_dataset([path]).drop("g").rows()) == sorted(want)
    strict = [parse_line(line, str(path), n) for n, line in statements(path)]  # the strict parser alone
    assert strict == want
    fast = [m.groups() for _, line in statements(path) if (m := re.match(FAST_LINE, line))]
    assert all(tuple(parse_line(" ".join(g) + " .")) in set(want) for g in fast)


@needs_suite
@pytest.mark.parametrize(("name", "path"), NEGATIVE, ids=[n for n, _ in NEGATIVE])
def test_negative_syntax_tests_are_rejected_on_every_path(name, path):
    with pytest.raises(SourceError) as info:
        read_ntriples([path])
    err = info.value
    assert err.source == str(path) and err.line >= 1 and err.column is not None
    bad = [(n, line) for n, line in statements(path) if _rejects(line)]
    assert bad and bad[0][0] == err.line  # the strict parser refuses the same line
    for _, line in bad:  # and no fast pattern accepts it
        assert not re.match(FAST_LINE, line) and not re.match(CANONICAL_LINE, line)
    with pytest.raises(SourceError):
        read_dataset([path])


def _rejects(line: str) -> bool:
    try:
        parse_line(line)
    except SourceError:
        return True
    return False


# --- hostile files ------------------------------------------------------------------------------

GOOD = b"<http://a> <http://b> <http://c> .\n"


@pytest.mark.parametrize(
    ("line", "column", "needle"),
    [
        ('<http://a> <http://b> "\\uD800" .', 24, "\\uD800 is not a Unicode character"),
        ('<http://a> <http://b> "x\\U00110000" .', 25, "\\U00110000 is not a Unicode character"),
        ("<http://a/\\uDC00> <http://b> <http://c> .", 11, "\\uDC00 is not a Unicode character"),
        ("<http://a/\\UFFFFFFFF> <http://b> <http://c> .", 11, "is not a Unicode character"),
        ("_::a <http://b> <http://c> .", 3, "bad blank node label"),
        ("_:abc:def <http://b> <http://c> .", 6, "expected an IRI as predicate"),
    ],
)
def test_bad_escapes_and_labels_are_clean_errors(tmp_path, line, column, needle):
    path = tmp_path / "x.nt"
    path.write_bytes(GOOD + line.encode() + b"\n")
    with pytest.raises(SourceError) as info:
        read_ntriples([path])
    assert (info.value.line, info.value.column) == (2, column), info.value.render()
    assert needle in info.value.message and info.value.render().splitlines()[-1].strip() == "^"


def test_damaged_gzip_files_name_the_file_and_the_problem(tmp_path):
    whole = gzip.compress(GOOD * 50_000)
    corrupt = tmp_path / "corrupt.nt.gz"
    corrupt.write_bytes(whole[:40] + bytes(b ^ 0x5A for b in whole[40:400]) + whole[400:])
    truncated = tmp_path / "truncated.nt.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    not_gzip = tmp_path / "plain.nt.gz"  # named .gz, but plain text: read as what it is
    not_gzip.write_bytes(GOOD)
    header_only = tmp_path / "header.nt.gz"
    header_only.write_bytes(b"\x1f\x8b\x08\x00garbage")
    for path, needle in ((corrupt, "corrupt gzip data"), (truncated, "truncated"), (header_only, "gzip")):
        with pytest.raises(InputError) as info:
            read_ntriples([path])
        line = info.value.one_line()
        assert line.startswith(f"{path}: ") and needle in line and "\n" not in line, line
    assert read_ntriples([not_gzip]).height == 1


def test_utf8_errors_byte_order_marks_and_missing_files(tmp_path):
    bad = tmp_path / "b.nt"
    bad.write_bytes(GOOD * 3 + b'<http://a> <http://b> "caf\xc3" .\n')
    with pytest.raises(SourceError, match="invalid UTF-8") as info:
        read_ntriples([bad])
    assert (info.value.line, info.value.column) == (4, 27)
    bom = tmp_path / "bom.nt"
    bom.write_bytes(b"\xef\xbb\xbf" + GOOD)
    assert read_ntriples([bom]).height == 1
    with pytest.raises(InputError, match="no such file"):
        read_ntriples([tmp_path / "nope.nt"])
    with pytest.raises(InputError, match="a directory"):
        read_ntriples([tmp_path])


def test_small_chunks_keep_line_numbers(tmp_path):
    from fincrime.rdf import iter_chunks
    from fincrime.rdf.reader import iter_frames

    path = tmp_path / "x.nt.gz"
    path.write_bytes(gzip.compress(GOOD * 999 + b"<http://a> <http://b> oops .\n"))
    assert [first for first, _ in iter_chunks(path, chunk_bytes=4096)][:3] == [1, 118, 235]
    with pytest.raises(SourceError) as info:
        list(iter_frames(path, chunk_bytes=4096))
    assert info.value.line == 1000


def test_nquads_are_read_as_a_dataset_and_written_back(tmp_path):
    text = (
        "<http://a> <http://b> <http://c> .\n"
        "<http://a> <http://b> <http://c> <http://g> .\n"
        '_:x <http://b> "v"@EN _:g .\n'
        "<http://a>\t<http://b>\t<http://c>\t<http://g>.\n"
    )
    path = tmp_path / "d.nq"
    path.write_text(text)
    data = read_dataset([path])
    assert data.rows() == [
        ("<http://a>", "<http://b>", "<http://c>", None),
        ("<http://a>", "<http://b>", "<http://c>", "<http://g>"),
        ("_:x", "<http://b>", '"v"@en', "_:g"),
        ("<http://a>", "<http://b>", "<http://c>", "<http://g>"),
    ]
    with pytest.raises(InputError, match="named graphs"):
        read_ntriples([path])
    out = tmp_path / "out.nq.gz"
    assert write_nquads(out, data) == 4
    assert read_dataset([out]).rows() == data.rows()
    with pytest.raises(SourceError, match="at the end of the triple"):
        parse_document("<http://a> <http://b> <http://c> <http://g> .\n")


# --- fuzzing ------------------------------------------------------------------------------------

_pieces = st.sampled_from([
    "<http://e/a>", "<http://e/é>", "<rel>", "<http://e/a b>", "_:b1", "_:b.c", "_::x", "_:a:b", "_:é", '"x"',
    '"a\\"b"', '"\\u00e9"', '"\\uD800"', '"\\U00110000"', '"\\z"', '"x"@en', '"x"@EN-gb', '"x"@1', "\"x\"^^<http://e/d>",
    '"x"^^<http://www.w3.org/2001/XMLSchema#string>', "'x'", '"""x"""', "1", ".", " ", "\t", "#c", "\r", "\n",
    "<http://e/\\u0041>", "<http://e/\\n>", "^^", "@", ",", ";",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_pieces, max_size=14).map("".join) | st.text(max_size=40))
def test_fuzzed_lines_agree_across_paths_or_fail_cleanly(text):
    try:
        frame = parse_document(text, "fuzz.nt")
    except SourceError as exc:
        assert exc.source == "fuzz.nt" and exc.column is not None
        assert any(_rejects(line) for line in text.split("\n") if not re.match(SKIP_LINE, line))
        return
    rows = frame.rows()
    strict = [parse_line(line) for line in text.split("\n") if not re.match(SKIP_LINE, line)]
    assert rows == strict  # the vectorized tiers and the strict parser agree on every line
    for row in rows:
        assert parse_document(" ".join(row) + " .\n").rows() == [row]  # canonical terms re-read as such


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.booleans())
def test_fuzzed_files_give_triples_or_one_clean_error(tmp_path, data, gz):
    path = tmp_path / ("f.nt.gz" if gz else "f.nt")
    path.write_bytes(b"\x1f\x8b" + data if gz else data)
    try:
        read_ntriples([path])
    except FincrimeError as exc:
        assert str(path) in exc.one_line() and "\n" not in exc.one_line()
