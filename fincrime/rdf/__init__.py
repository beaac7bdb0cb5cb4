"""RDF terms as canonical N-Triples strings, and N-Triples reading and writing."""

from fincrime.rdf.ntriples import read_ntriples, write_ntriples
from fincrime.rdf.terms import Term, blank, iri, literal, parse_term

__all__ = ["Term", "blank", "iri", "literal", "parse_term", "read_ntriples", "write_ntriples"]
