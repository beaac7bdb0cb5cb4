"""Polars' allocator (jemalloc) gives freed pages back at once.

Reasoning allocates and frees large transient frames every round. Polars' jemalloc keeps freed
pages for seconds by default, so RSS only grows: measured on 1.9M chains, 7.1 GB RSS with
0.7 GB live; 1.0 GB with immediate decay and glibc's ``malloc_trim`` between rounds
(:mod:`fincrime.engine.memory.allocator`, bench/RESULTS.md).

jemalloc reads its setting once, when polars loads, so :func:`configure_jemalloc` runs in
``fincrime/__init__.py`` before any module of the project imports polars; this module imports
nothing that does.
"""

from __future__ import annotations

import os

ENV = "_RJEM_MALLOC_CONF"  # read by the jemalloc inside polars when it loads
SETTING = "dirty_decay_ms:0,muzzy_decay_ms:0"


def configure_jemalloc() -> None:
    """Ask polars' jemalloc to return freed pages at once (unless the user configured it)."""
    os.environ.setdefault(ENV, SETTING)
