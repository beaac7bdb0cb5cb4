"""One home for the SPARQL semantics of rule expressions, shared by both executors.

Layers, each written once:

- :mod:`model`: the value model (kinds, type classes, numeric ranks and promotion, datatypes);
- :mod:`expr`: backend-neutral expression nodes with constant folding (the primitives);
- :mod:`exact`: exact integer / decimal arithmetic, plain Python, the backends' host functions;
- :mod:`decode`: term strings to value fields; :mod:`value`: values and their constructors;
- :mod:`functions`: every SPARQL function and operator; :mod:`aggregates`: every aggregate;
- :mod:`evaluate`: FILTER, BIND and AGGREGATE over frames, against a :class:`evaluate.Backend`.

Backends: :mod:`fincrime.engine.memory.backend` (polars, over dictionary ids) and
:mod:`fincrime.engine.spark.backend` (Spark SQL text, over term strings).
"""
