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
OWL = "http://www.w3.org/2002/07/owl#"
RDFOX = "http://oxfordsemantic.tech/RDFox#"
SH = "http://www.w3.org/ns/shacl#"
SWRL = "http://www.w3.org/2003/11/swrl#"
SWRLB = "http://www.w3.org/2003/11/swrlb#"

#: Typology names of the ground-truth vocabulary (``prop:hasTypology``), in the generator's order
TYPOLOGIES: tuple[str, ...] = (
    "fan_in", "fan_out", "cycle", "scatter_gather", "gather_scatter", "layering", "structuring",
    "bipartite",
)

# fincrime's own terms: rule parameters set by jobs (see rules/README.md)
PARAM = "https://w3id.org/fincrime/param#"
PARAM_SUBJECT = PARAM + "job"

#: Prefixes every fincrime component declares by default; a caller or a file may override them.
#: Besides the reference vocabulary's, those RDFox declares in every data store.
DEFAULT_PREFIXES: dict[str, str] = {
    "": ENT,
    "prop": PROP,
    "type": TYPE,
    "tt": TT,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
    "owl": OWL,
    "rdfox": RDFOX,
    "sh": SH,
    "swrl": SWRL,
    "swrlb": SWRLB,
    "param": PARAM,
}
