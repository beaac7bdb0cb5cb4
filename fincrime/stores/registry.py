"""Target types as plugins, registered by name and imported only when used (as rdflib does).

A target type is a function ``load(job_dir, target, workspace) -> dict`` (optionally taking a
keyword ``progress``, called with the count of items sent per batch). Built-in types are
registered below; other packages add theirs with :func:`register` or through the entry-point
group ``fincrime.stores`` (``name = "package.module:function"``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from fincrime.errors import InputError
from fincrime.plugins import PluginRegistry

Loader = Callable[..., dict[str, Any]]
ENTRY_POINT_GROUP = "fincrime.stores"
_targets = PluginRegistry("load target type", ENTRY_POINT_GROUP)


def register(name: str, module: str, attr: str) -> None:
    """Registers (or replaces) the loader of target type ``name``.

    >>> register("oxigraph", "fincrime.stores.targets", "load_oxigraph")
    >>> get("oxigraph").__name__
    'load_oxigraph'
    """
    _targets.register(name, module, attr)


def names() -> list[str]:
    return _targets.names()


def get(name: str) -> Loader:
    """The loader of target type ``name``; an unknown name is an :class:`InputError`."""
    loader: Loader = _targets.get(name)
    return loader


@cache
def targets_schema() -> dict[str, Any]:
    """The JSON Schema of a job spec's ``targets`` list (``targets.schema.json``)."""
    return json.loads((Path(__file__).with_name("targets.schema.json")).read_text(encoding="utf-8"))


def validate_target(target: Any, *, where: str = "target") -> None:
    """Checks one target dict against the schema of its type; one clear line on failure.

    Types added by plugins are not in the built-in schema; they validate themselves.
    """
    if not isinstance(target, dict) or not isinstance(target.get("type"), str):
        raise InputError(f"{where}: a target is an object with a \"type\" (one of {', '.join(names())})")
    schema = targets_schema()
    if target["type"] not in schema["$defs"]:
        get(target["type"])
        return
    sub = {"$defs": schema["$defs"], "$ref": f"#/$defs/{target['type']}"}
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(sub).iter_errors(target))
    if error is not None:
        path = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise InputError(f"{where}{path}: {error.message}")


register("oxigraph", "fincrime.stores.targets", "load_oxigraph")
register("sparql", "fincrime.stores.targets", "load_sparql")
register("gremlin", "fincrime.stores.targets", "load_gremlin")
register("neptune", "fincrime.stores.targets", "load_neptune")
