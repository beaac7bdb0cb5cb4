"""RDF for every component: terms as canonical N-Triples strings (:mod:`~fincrime.rdf.terms`),
the N-Triples / N-Quads grammar (:mod:`~fincrime.rdf.syntax`), reading files into polars frames
(:mod:`~fincrime.rdf.reader`), writing them (:mod:`~fincrime.rdf.writer`) and expressions over
term columns (:mod:`~fincrime.rdf.columns`)."""

from fincrime.rdf.reader import (
    is_nquads,
    iter_chunks,
    iter_frames,
    parse_document,
    read_dataset,
    read_ntriples,
    read_text,
)
from fincrime.rdf.syntax import parse_line
from fincrime.rdf.terms import Term, blank, iri, literal, parse_term
from fincrime.rdf.writer import write_nquads, write_ntriples

__all__ = [
    "Term", "blank", "iri", "is_nquads", "iter_chunks", "iter_frames", "literal", "parse_document", "parse_line",
    "parse_term", "read_dataset", "read_ntriples", "read_text", "write_nquads", "write_ntriples",
]
