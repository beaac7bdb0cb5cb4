"""Term strings in Spark columns: the type class of stored values (the executor's type hints)
and the canonical escaping of a lexical form (the Parquet reader spells names with it)."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from fincrime.engine.spark.backend import tclass_sql


def tclass(column: str) -> Column:
    """The type class (:mod:`fincrime.engine.sparql.model`) of each term in ``column``."""
    return F.expr(tclass_sql(column))


def escape_column(column: Column) -> Column:
    """Canonical N-Triples escaping of a pyspark column (backslash first, so the order is safe)."""
    out = F.replace(column, F.lit("\\"), F.lit("\\\\"))
    out = F.replace(out, F.lit('"'), F.lit('\\"'))
    out = F.replace(out, F.lit("\n"), F.lit("\\n"))
    return F.replace(out, F.lit("\r"), F.lit("\\r"))


__all__ = ["escape_column", "tclass"]
