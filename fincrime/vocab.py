"""Namespaces of the reference vocabulary (Oxford Semantic transactions) and of fincrime's own."""

from __future__ import annotations

BASE = "http://oxfordsemantic.tech/transactions/"
ENT = BASE + "entities#"
PROP = BASE + "properties#"
TYPE = BASE + "classes#"
TT = BASE + "tupletables#"

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = RDF + "type"

# fincrime's own terms: rule parameters set by jobs (see rules/README.md)
PARAM = "https://w3id.org/fincrime/param#"
PARAM_SUBJECT = PARAM + "job"

#: Prefixes every fincrime component declares by default; a caller or a file may override them.
DEFAULT_PREFIXES: dict[str, str] = {
    "": ENT,
    "prop": PROP,
    "type": TYPE,
    "tt": TT,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "param": PARAM,
}
