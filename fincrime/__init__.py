"""fincrime: graph-based financial-crime investigation toolkit.

Layout (parse -> plan -> execute; spec -> runner -> outputs):

- ``fincrime.rdf``       terms, N-Triples reading and writing
- ``fincrime.rules``     RDFox-dialect Datalog: parser -> relational plan (IR)
- ``fincrime.engine``    executors of that plan (in-memory columnar; Spark)
- ``fincrime.generator`` synthetic transactions with injected typologies
- ``fincrime.jobs``      JSON job specs, runner, registry, watcher, notifications
- ``fincrime.stores``    SPARQL / Gremlin / Neptune result stores
- ``fincrime.viz``       chain pictures and the investigator report
- ``fincrime.cli``       the ``fincrime`` command
"""

__version__ = "0.1.0"

# Before anything imports polars: its allocator reads this setting once, when it loads. (The
# module imports nothing that loads polars; tests/test_startup.py checks it in a fresh process.)
from fincrime.jemalloc import configure_jemalloc as _configure_jemalloc

_configure_jemalloc()
