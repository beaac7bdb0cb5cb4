"""Reasoning engines by name, imported only when chosen (so pyspark loads for a Spark run only).

An engine is a function ``run(program, data_paths, engine_options, progress, checks) -> Result``
(:func:`fincrime.engine.memory.run.materialize_memory` is the model). Other packages add theirs
with :func:`register` or through the entry-point group ``fincrime.engines``.

>>> names()[:2]
['memory', 'spark']
>>> get("memory").__name__
'materialize_memory'
"""

from __future__ import annotations

from typing import Any

from fincrime.plugins import PluginRegistry

_engines = PluginRegistry("engine", "fincrime.engines")


def register(name: str, module: str, attr: str) -> None:
    """Register (or replace) engine ``name`` as ``module.attr``."""
    _engines.register(name, module, attr)


def names() -> list[str]:
    return _engines.names()


def get(name: str) -> Any:
    """The engine ``name``; an unknown name is an :class:`~fincrime.errors.InputError`."""
    return _engines.get(name)


register("memory", "fincrime.engine.memory.run", "materialize_memory")
register("spark", "fincrime.engine.spark", "materialize_spark")

__all__ = ["get", "names", "register"]
