"""Plugins registered by name and imported only when used (the shape of rdflib's ``plugin.py``).

One :class:`PluginRegistry` per kind: load-target types (:mod:`fincrime.stores.registry`) and
reasoning engines (:mod:`fincrime.engine.registry`). Built-ins register ``module:attribute``
names; other packages add theirs with ``register`` or through the kind's entry-point group, so a
plugin's heavy dependencies (pyspark, gremlinpython) load only when it is chosen.

>>> engines = PluginRegistry("engine", "example.engines")
>>> engines.register("json", "json", "dumps")
>>> engines.get("json")([1])
'[1]'
>>> engines.get("nope")
Traceback (most recent call last):
...
fincrime.errors.InputError: unknown engine 'nope' (known: json)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from fincrime.errors import InputError


@dataclass(frozen=True)
class Plugin:
    name: str
    module: str
    attr: str

    def load(self) -> Any:
        return getattr(importlib.import_module(self.module), self.attr)


class PluginRegistry:
    """Named plugins of one kind (``what``: how an error names them)."""

    def __init__(self, what: str, entry_point_group: str) -> None:
        self.what = what
        self.entry_point_group = entry_point_group
        self._plugins: dict[str, Plugin] = {}

    def register(self, name: str, module: str, attr: str) -> None:
        """Register (or replace) plugin ``name`` as ``module.attr``."""
        self._plugins[name] = Plugin(name, module, attr)

    def _from_entry_points(self) -> None:
        for ep in entry_points(group=self.entry_point_group):
            if ep.name not in self._plugins:
                module, _, attr = ep.value.partition(":")
                self.register(ep.name, module, attr)

    def names(self) -> list[str]:
        self._from_entry_points()
        return sorted(self._plugins)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def get(self, name: str) -> Any:
        """The plugin ``name``, imported now; an unknown name is an :class:`InputError`."""
        if name not in self._plugins:
            self._from_entry_points()
        if name not in self._plugins:
            raise InputError(f"unknown {self.what} {name!r} (known: {', '.join(self.names())})")
        return self._plugins[name].load()


__all__ = ["Plugin", "PluginRegistry"]
