"""N-Triples: the vectorized fast path and the strict parser agree; errors name file and line."""

from __future__ import annotations

import gzip

import pytest
import rdflib
from hypothesis import given, settings
from hypothesis import strategies as st

from fincrime.errors import SourceError
from fincrime.rdf import parse_document, parse_line, read_ntriples, write_ntriples
from fincrime.rdf.terms import iri, literal, parse_term

# rdflib (the reference parser here) treats Unicode spaces in IRIs as errors, so leave them out
iri_chars = st.text(
    alphabet=st.characters(blacklist_characters='<>"{}|^`\\', blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), min_codepoint=33, max_codepoint=0x2FFF),
    max_size=12,
)
iris = iri_chars.map(lambda t: iri("http://x.org/" + t))
blanks = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_\-]{0,6})", fullmatch=True).map(lambda t: "_:" + t)
lexicals = st.text(max_size=15, alphabet=st.characters(blacklist_categories=("Cs",)))
literals = st.one_of(
    lexicals.map(literal),
    st.tuples(lexicals, st.sampled_from(["en", "fr-be"])).map(lambda t: literal(t[0], lang=t[1])),
    st.tuples(lexicals, st.sampled_from(["http://www.w3.org/2001/XMLSchema#decimal", "http://x.org/dt"])).map(
        lambda t: literal(t[0], t[1])
    ),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(iris, blanks), iris, st.one_of(iris, blanks, literals)), min_size=1, max_size=8))
def test_round_trip_and_agreement_with_rdflib(triples):
    text = "".join(f"{s} {p} {o} .\n" for s, p, o in triples)
    frame = parse_document(text)
    assert frame.rows() == triples  # canonical terms come back exactly
    for (s, p, o), line in zip(triples, text.split("\n"), strict=False):
        assert parse_line(line) == (s, p, o)  # the strict parser agrees with the fast path
    # rdflib rewrites typed literals to canonical form by default ("00"^^xsd:decimal -> "0");
    # the lexical form is what is compared here
    normalize, rdflib.NORMALIZE_LITERALS = rdflib.NORMALIZE_LITERALS, False
    try:
        graph = rdflib.Graph().parse(data=text, format="nt")
    finally:
        rdflib.NORMALIZE_LITERALS = normalize
    assert len(graph) == len(set(triples))
    for _s, _p, o in triples:
        term = parse_term(o)
        if term.kind == "literal":
            assert any(str(x) == term.value for x in graph.objects())


def test_escapes_unicode_and_spacing_use_the_strict_path():
    text = (
        '<http://a>\t<http://b>   "tab\\there \\u00e9 \\"q\\""^^<http://www.w3.org/2001/XMLSchema#string> .\n'
        "_:b1 <http://b> <http://x/\\u00e9> . # comment\n"
        "\n# only a comment\n"
        '<http://a> <http://b> "x"@EN-GB .\n'
    )
    frame = parse_document(text)
    assert frame.rows() == [
        ("<http://a>", "<http://b>", '"tab\there é \\"q\\""'),
        ("_:b1", "<http://b>", "<http://x/é>"),
        ("<http://a>", "<http://b>", '"x"@en-gb'),
    ]


@pytest.mark.parametrize(
    ("line", "column", "needle"),
    [
        ('<http://a> <http://b> "open .', 23, "unterminated string literal"),
        ("<http://a> <http://b> <http://c>", 33, "expected '.'"),
        ("<rel> <http://b> <http://c> .", 1, "relative IRI"),
        ('"lit" <http://b> <http://c> .', 1, "expected an IRI or a blank node as subject"),
        ("<http://a> _:b <http://c> .", 12, "expected an IRI as predicate"),
        ("<http://a> <http://b> <http://c> . extra", 36, "unexpected text"),
        ("<http://a b> <http://b> <http://c> .", 10, "not allowed in an IRI"),
    ],
)
def test_errors_name_file_line_and_column(tmp_path, line, column, needle):
    path = tmp_path / "data.nt"
    path.write_text("<http://a> <http://b> <http://c> .\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as info:
        read_ntriples([path])
    err = info.value
    assert (err.source, err.line, err.column) == (str(path), 3, column), err.render()
    assert needle in err.message


def test_gzip_and_bad_bytes(tmp_path):
    gz = tmp_path / "a.nt.gz"
    gz.write_bytes(gzip.compress(b"<http://a> <http://b> <http://c> .\n"))
    assert read_ntriples([gz]).height == 1
    bad = tmp_path / "b.nt"
    bad.write_bytes(b"<http://a> <http://b> <http://c> .\n<http://a> <http://b> \"\xff\" .\n")
    with pytest.raises(SourceError, match="invalid UTF-8") as info:
        read_ntriples([bad])
    assert info.value.line == 2


def test_write_is_atomic_and_round_trips(tmp_path):
    frame = parse_document('<http://a> <http://b> "x\\ny" .\n_:z <http://b> <http://c> .\n')
    target = tmp_path / "out" / "d.nt.gz"
    assert write_ntriples(target, frame) == 2
    assert read_ntriples([target]).rows() == frame.rows()
    assert not list(target.parent.glob(".*part"))


def test_reading_ahead_gives_the_same_frames_and_the_same_errors(tmp_path):
    import polars as pl

    from fincrime.rdf.reader import iter_frames

    lines = [f'<http://e/s{i}> <http://e/p> "v{i}" .' for i in range(300)]
    good = tmp_path / "good.nt"
    good.write_text("\n".join(lines) + "\n")
    plain = pl.concat(list(iter_frames(good, chunk_bytes=200)))
    ahead = pl.concat(list(iter_frames(good, chunk_bytes=200, ahead=2)))
    assert ahead.rows() == plain.rows()
    lines[250] = "<http://e/s> <http://e/p> oops ."
    bad = tmp_path / "bad.nt"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(SourceError) as err:
        list(iter_frames(bad, chunk_bytes=200, ahead=2))
    assert err.value.line == 251 and "bad.nt" in str(err.value)
    first = next(iter(iter_frames(bad, chunk_bytes=200, ahead=2)))  # a consumer that stops early
    assert first.height
