"""Give freed memory back to the system between rounds.

Reasoning allocates and frees large transient frames every round. Without help, RSS only grows:
polars' jemalloc keeps freed pages for 10 s by default, and glibc's malloc (used by numpy) keeps
its freed heap until trimmed. Measured on 1.9M chains: 7.1 GB RSS with 0.7 GB live; 1.0 GB with
immediate jemalloc decay and ``malloc_trim`` (bench/RESULTS.md).

``configure_jemalloc`` must run before polars is first imported; ``fincrime/__init__.py`` calls it.
"""

from __future__ import annotations

import ctypes
import os
import sys

_JEMALLOC_ENV = "_RJEM_MALLOC_CONF"  # read by the jemalloc inside polars when it loads


def configure_jemalloc() -> None:
    """Ask polars' jemalloc to return freed pages at once (unless the user configured it)."""
    os.environ.setdefault(_JEMALLOC_ENV, "dirty_decay_ms:0,muzzy_decay_ms:0")


def _load_trim():  # type: ignore[no-untyped-def]
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _load_trim()


def release_free_memory() -> None:
    """Return glibc's free heap pages to the system (a no-op where there is no malloc_trim)."""
    if _TRIM is not None:
        _TRIM(0)
