"""Job parameters: what a job's ``params`` (CLI ``--param name=value``) give its rules and queries.

A parameter is the triple ``[param:job, param:<name>, value]``. Its value is typed once, here,
for the rules (which replace a rule file's default fact by it) and the SPARQL queries (which
see it beside the results) alike: integers, decimals, doubles, booleans and ISO date-times keep
their type whether they come as JSON values or as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from fincrime.errors import InputError
from fincrime.rdf.terms import (
    XSD_BOOLEAN,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_INTEGER,
    iri,
    literal,
)
from fincrime.vocab import PARAM, PARAM_SUBJECT

ParamValue = str | int | float | bool

SUBJECT = iri(PARAM_SUBJECT)


def param_literal(value: ParamValue) -> str:
    """The RDF literal (an N-Triples term) of a job parameter.

    >>> param_literal(10000), param_literal("10000"), param_literal(True)
    ('"10000"^^<http://www.w3.org/2001/XMLSchema#integer>', '"10000"^^<http://www.w3.org/2001/XMLSchema#integer>', '"true"^^<http://www.w3.org/2001/XMLSchema#boolean>')
    >>> param_literal(1e-05), param_literal("1e-05")
    ('"1e-05"^^<http://www.w3.org/2001/XMLSchema#double>', '"1e-05"^^<http://www.w3.org/2001/XMLSchema#double>')
    >>> param_literal(0.5), param_literal("2024-01-01T00:00:00"), param_literal("fan_in")
    ('"0.5"^^<http://www.w3.org/2001/XMLSchema#decimal>', '"2024-01-01T00:00:00"^^<http://www.w3.org/2001/XMLSchema#dateTime>', '"fan_in"')
    """
    if isinstance(value, bool):
        return literal("true" if value else "false", XSD_BOOLEAN)
    if isinstance(value, int):
        return literal(str(value), XSD_INTEGER)
    if isinstance(value, float):
        return literal(repr(value), XSD_DOUBLE if "e" in repr(value) else XSD_DECIMAL)
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return literal(text.lower(), XSD_BOOLEAN)
    try:
        int(text)
        return literal(str(int(text)), XSD_INTEGER)
    except ValueError:
        pass
    try:
        float(text)
        return literal(text, XSD_DOUBLE if "e" in text.lower() else XSD_DECIMAL)
    except ValueError:
        pass
    try:
        datetime.fromisoformat(text)
        if "T" in text:
            return literal(text, XSD_DATETIME)
    except ValueError:
        pass
    return literal(text)


def check_names(names: Iterable[str]) -> None:
    """Refuses a parameter name that cannot be the local part of an IRI."""
    for name in names:
        if not name or any(c.isspace() or c in '<>"{}|^`\\' for c in name):
            raise InputError(f"bad parameter name {name!r}")


def param_predicate(name: str) -> str:
    """``param:<name>`` as an N-Triples term."""
    return iri(PARAM + name)


def param_triples(params: Mapping[str, ParamValue]) -> list[tuple[str, str, str]]:
    """The parameters as N-Triples terms ``(param:job, param:<name>, value)``.

    >>> param_triples({"highValueThreshold": 50000})[0][1:]
    ('<https://w3id.org/fincrime/param#highValueThreshold>', '"50000"^^<http://www.w3.org/2001/XMLSchema#integer>')
    """
    check_names(params)
    return [(SUBJECT, param_predicate(name), param_literal(value)) for name, value in params.items()]


__all__ = ["SUBJECT", "ParamValue", "check_names", "param_literal", "param_predicate", "param_triples"]
