"""Run Debian's Graphviz (``dot``, ``sfdp``) on DOT source and quote values for DOT."""

from __future__ import annotations

import re
import shutil
import subprocess

from fincrime.errors import FincrimeError

#: Graphviz output formats fincrime writes.
FORMATS = ("svg", "png")
_TIMEOUT = 300


def quote(text: object) -> str:
    """A DOT double-quoted string; newlines become DOT line breaks.

    >>> quote('Sam "Cycle" Sutton\\nsuspicious')
    '"Sam \\\\"Cycle\\\\" Sutton\\\\nsuspicious"'
    """
    s = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + s.replace("\r", "").replace("\n", "\\n") + '"'


def attrs(**values: object) -> str:
    """``[k="v", ...]`` with ``None`` values left out (``class_`` writes ``class``)."""
    parts = [f"{k.rstrip('_')}={quote(v)}" for k, v in values.items() if v is not None]
    return "[" + ", ".join(parts) + "]"


def tool(engine: str) -> str:
    path = shutil.which(engine)
    if path is None:
        raise FincrimeError(
            f"Graphviz '{engine}' not found on PATH; pictures need Debian's graphviz package",
            hint="run 'bash scripts/system-deps.sh' as root, or 'apt-get install graphviz'",
        )
    return path


def render(source: str, fmt: str, engine: str = "dot") -> bytes:
    """Lay out and draw DOT ``source`` as ``fmt`` (``svg`` or ``png``) with ``engine``."""
    if fmt not in FORMATS:
        raise FincrimeError(f"unsupported picture format {fmt!r} (choose from {', '.join(FORMATS)})")
    try:
        done = subprocess.run(
            # 144 dpi keeps PNG text sharp when attached to a case or printed.
            [tool(engine), f"-T{fmt}", *(["-Gdpi=144"] if fmt == "png" else [])],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise FincrimeError(
            f"Graphviz {engine} took over {_TIMEOUT} s", hint="lower --top or the overview cap"
        ) from None
    if done.returncode != 0:
        msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise FincrimeError(f"Graphviz {engine} failed: {msg[-1] if msg else done.returncode}")
    return done.stdout


def inline_svg(svg: bytes) -> str:
    """SVG text ready to embed in HTML: no XML declaration, doctype or comments."""
    text = svg.decode("utf-8")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.S)
    return re.sub(r"<!--.*?-->", "", text, flags=re.S).strip()
