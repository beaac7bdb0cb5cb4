"""Polars expressions over columns of canonical term strings (``<iri>``, ``_:b``, literals).

>>> import polars as pl
>>> df = pl.DataFrame({"o": ['<http://e/a>', '"1.5"^^<http://www.w3.org/2001/XMLSchema#decimal>', '_:b']})
>>> df.select(bare("o"), iri_value("o").alias("i"), lexical("o").alias("l")).rows()
[('http://e/a', 'http://e/a', 'http://e/a'), ('"1.5"^^<http://www.w3.org/2001/XMLSchema#decimal>', None, '1.5'), ('_:b', None, '_:b')]
"""

from __future__ import annotations

import polars as pl


def bare(col: str) -> pl.Expr:
    """``<iri>`` -> ``iri``; other terms unchanged."""
    c = pl.col(col)
    return pl.when(c.str.starts_with("<")).then(c.str.slice(1, c.str.len_chars() - 2)).otherwise(c).alias(col)


def iri_value(col: str) -> pl.Expr:
    """The IRI of an ``<iri>`` term, null for literals and blank nodes."""
    c = pl.col(col)
    return pl.when(c.str.starts_with("<")).then(c.str.slice(1, c.str.len_chars() - 2)).otherwise(None)


def lexical(col: str) -> pl.Expr:
    """The lexical form of a literal, IRIs bare, blank nodes as they are.

    String escapes stay as written (amounts, dates and IRIs never carry them); decode text
    shown to people with :func:`fincrime.rdf.terms.unescape_string`.
    """
    c = pl.col(col)
    return pl.when(c.str.starts_with('"')).then(c.str.extract(r'^"(.*)"', 1)).otherwise(bare(col))


def skolemized(col: str, prefix: str) -> pl.Expr:
    """Blank nodes ``_:b`` as IRIs ``<prefix b>`` (for stores that load in separate requests)."""
    c = pl.col(col)
    return pl.when(c.str.starts_with("_:")).then("<" + prefix + c.str.slice(2) + ">").otherwise(c).alias(col)


__all__ = ["bare", "iri_value", "lexical", "skolemized"]
