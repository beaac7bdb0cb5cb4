"""Reading untrusted JSON: size and nesting limits, no duplicate keys, no NaN/Infinity, no huge numbers.

The nesting depth is measured by a linear scan *before* parsing, so a hostile file of a
million ``[`` cannot exhaust the parser's recursion.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MAX_SPEC_BYTES = 1 << 20  # 1 MiB: a spec is a few KB; anything bigger is a mistake or an attack
MAX_DEPTH = 16
MAX_NUMBER_CHARS = 64  # no setting needs more; Python's int() refuses beyond 4,300 digits anyway


class JsonLimitError(ValueError):
    """Raised with a ``line:col: message`` text when untrusted JSON breaks a rule."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings.

    >>> nesting_depth('{"a": [1, {"b": "[[["}]}')
    3
    """
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonLimitError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise JsonLimitError(f"{name} is not valid JSON")


def _where(text: str, token: str) -> str:
    offset = text.find(token)
    if offset < 0:
        return ""
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}: "


def _number_parsers(text: str) -> dict[str, Any]:
    def check(token: str) -> None:
        if len(token) > MAX_NUMBER_CHARS:
            raise JsonLimitError(f"{_where(text, token)}a number of {len(token):,} characters "
                                 f"(limit {MAX_NUMBER_CHARS})")

    def parse_int(token: str) -> int:
        check(token)
        return int(token)

    def parse_float(token: str) -> float:
        check(token)
        value = float(token)
        if not math.isfinite(value):
            raise JsonLimitError(f"{_where(text, token)}the number {token} is too large")
        return value

    return {"parse_int": parse_int, "parse_float": parse_float}


def loads_limited(text: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parses JSON text under the rules above; raises :class:`JsonLimitError`.

    >>> loads_limited('{"name": "x"}')
    {'name': 'x'}
    >>> try:
    ...     loads_limited('{"a": 1, "a": 2}')
    ... except JsonLimitError as exc:
    ...     print(exc)
    duplicate key 'a'
    """
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonLimitError(f"nested {depth} levels deep (limit {max_depth})")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                          **_number_parsers(text))
    except json.JSONDecodeError as exc:
        raise JsonLimitError(f"{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise JsonLimitError("nested too deeply") from None


def read_limited(path: Path, *, max_bytes: int = MAX_SPEC_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Reads and parses a JSON file under the limits; raises :class:`JsonLimitError` or OSError."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JsonLimitError(f"file is larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonLimitError(f"not UTF-8 text (byte {exc.start})") from None
    return loads_limited(text.removeprefix("\ufeff"), max_depth=max_depth)
