"""A gremlinpython ``RemoteConnection`` onto an embedded graphersal graph.

Why graphersal (evaluated against gremlite, both from PyPI):

- the loader writes with ``mergeV``/``mergeE`` and user-supplied ids (``T.id``): that is what
  makes a load idempotent on Neptune, JanusGraph and Gremlin Server alike. graphersal (Rust
  engine) runs both steps and accepts string ids; gremlite 0.1.2 has no ``mergeV``/``mergeE``
  and assigns its own integer ids, so the same loader could not run on it;
- graphersal keeps the graph in a durable on-disk Store (journal + snapshots), a proper
  embedded default; gremlite's SQLite file would be the other candidate, but without upserts;
- gremlite is a ``RemoteConnection`` out of the box while graphersal takes Gremlin script text:
  this module closes that gap by translating gremlinpython bytecode into graphersal's script
  dialect, so the loader runs unchanged, through ``traversal().with_(connection)``.

Values travel as script parameters (never spliced into the text), so any string is safe.
Only what the bytecode can express is translated: steps, nested anonymous traversals,
``P`` predicates, the ``T``/``Direction``/``Merge``/``Order``/``Scope``/... tokens, maps,
lists and scalars; anything else fails with a clear error.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import re
from functools import lru_cache
from typing import Any

import graphersal
from gremlin_python.driver.remote_connection import RemoteConnection, RemoteTraversal
from gremlin_python.process.traversal import Bytecode, P, TextP, Traverser
from gremlin_python.structure import graph as gp

from fincrime.errors import FincrimeError

_SAFE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Map keys graphersal understands as tokens (as in Gremlin's [(T.id): ...] maps).
_TOKEN_KEYS = {"T": "T", "Direction": "Direction"}


def _camel(name: str) -> str:
    head, *rest = name.rstrip("_").split("_")
    return head + "".join(part.title() for part in rest)


class Translator:
    """Bytecode -> graphersal script text plus its parameters (one instance per traversal)."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def _param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"params.{name}"

    def _steps(self, bytecode: Bytecode) -> list[str]:
        if bytecode.source_instructions:
            names = ", ".join(i[0] for i in bytecode.source_instructions)
            raise FincrimeError(f"embedded Gremlin: source steps are not supported ({names})")
        return [f".{name}({', '.join(self.value(a) for a in args)})"
                for name, *args in bytecode.step_instructions]

    def traversal(self, bytecode: Bytecode, source: str = "g") -> str:
        """A (nested, anonymous) traversal as one expression."""
        return source + "".join(self._steps(bytecode))

    def script(self, bytecode: Bytecode) -> str:
        """The top-level traversal as one statement per step, run to a list.

        The script parser limits how deeply one expression may nest, and a batch of a few
        hundred upserts chained in one expression passes that limit.
        """
        lines = ["let t = g;", *(f"t = t{step};" for step in self._steps(bytecode)), "t.to_list()"]
        return "\n".join(lines)

    def _key(self, key: Any) -> str:
        return _key_text(key)

    def value(self, value: Any) -> str:
        # Most values of a load are scalars and maps: test for them first.
        if value is None or type(value) in _SCALARS:
            return self._param(value)
        if isinstance(value, dict):
            return "#{" + ", ".join(f"{_key_text(k)}: {self.value(v)}" for k, v in value.items()) + "}"
        if isinstance(value, enum.Enum):
            return f"{type(value).__name__}.{_camel(value.name)}"
        if isinstance(value, Bytecode):
            return self.traversal(value, "__")
        if isinstance(value, P | TextP):
            args = [value.value] if value.other is None else [value.value, value.other]
            return f"{type(value).__name__}.{value.operator}({', '.join(self.value(a) for a in args)})"
        if isinstance(getattr(value, "bytecode", None), Bytecode):
            return self.traversal(value.bytecode, "__")
        if isinstance(value, list | tuple | set):
            return "[" + ", ".join(self.value(v) for v in value) + "]"
        if isinstance(value, gp.Element):
            return self._param(str(value.id))
        if isinstance(value, bool | int | float | str | _dt.datetime | _dt.date):
            return self._param(value)  # subclasses of the scalar types
        raise FincrimeError(f"embedded Gremlin: cannot send a {type(value).__name__} value")


_SCALARS = frozenset({str, int, float, bool, _dt.datetime, _dt.date})


@lru_cache(maxsize=4096)
def _key_text(key: Any) -> str:
    """A map key as script text: a token (``"T.id"``) or a plain property name."""
    if isinstance(key, enum.Enum):
        return json.dumps(f"{_TOKEN_KEYS.get(type(key).__name__, type(key).__name__)}.{key.name}")
    if isinstance(key, str) and _SAFE_KEY.match(key):
        return json.dumps(key)
    raise FincrimeError(f"embedded Gremlin: unsupported map key {key!r}")


def error_message(exc: Exception) -> str:
    """The line of a graphersal error that says what went wrong (its cause, when given)."""
    lines = str(exc).splitlines() or [type(exc).__name__]
    cause = next((ln for ln in lines if ln.startswith("Caused by:")), None)
    return cause[len("Caused by:"):].strip() if cause else lines[0]


def _to_gremlinpython(value: Any) -> Any:
    """graphersal's Vertex/Edge (and containers of them) as gremlinpython's classes."""
    if isinstance(value, graphersal.Vertex):
        return gp.Vertex(value.id, value.label or "vertex")
    if isinstance(value, graphersal.Edge):
        return gp.Edge(value.id, _to_gremlinpython(value.out_v), value.label or "edge",
                       _to_gremlinpython(value.in_v))
    if isinstance(value, list):
        return [_to_gremlinpython(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_gremlinpython(v) for k, v in value.items()}
    return value


class GraphersalConnection(RemoteConnection):
    """``traversal().with_(GraphersalConnection(graph))`` runs gremlinpython traversals
    on a ``graphersal.Graph`` (for instance ``graphersal.Store.open(path).graph``).

    Each submitted traversal is one atomic unit: it applies completely or not at all.
    """

    def __init__(self, graph: Any, traversal_source: str = "g") -> None:
        super().__init__("graphersal:embedded", traversal_source)
        self.graph = graph
        self._closed = False

    def submit(self, bytecode: Bytecode) -> RemoteTraversal:
        translator = Translator()
        script = translator.script(bytecode)
        try:
            results = self.graph.execute(script, translator.params, atomic=True)
        except graphersal.GraphersalError as exc:
            raise FincrimeError(f"embedded Gremlin: {error_message(exc)}") from None
        return RemoteTraversal(iter([Traverser(_to_gremlinpython(r)) for r in results or []]))

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
