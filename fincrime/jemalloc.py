"""Polars' allocator (jemalloc) gives freed pages back within two seconds, from its own thread.

Reasoning allocates and frees large transient frames every round. With jemalloc's default decay
(10 s) RSS only grows: measured on 1.9M chains, 7.1 GB RSS with 0.7 GB live. Returning pages at
once (``dirty_decay_ms:0``) kept RSS at 1.0 GB but made the kernel fault every page in again:
on the 200k-transaction chain benchmark 9.2 s of system time, 22.4 s CPU in all. A two-second
decay purged by jemalloc's background thread: 4.0 s system, 16.4 s CPU, peak RSS 2.4 GB instead
of 2.2 GB (bench/RESULTS.md, "Reasoning: the allocator").

jemalloc reads its setting once, when polars loads, so :func:`configure_jemalloc` runs in
``fincrime/__init__.py`` before any module of the project imports polars; this module imports
nothing that does.
"""

from __future__ import annotations

import os

ENV = "_RJEM_MALLOC_CONF"  # read by the jemalloc inside polars when it loads
SETTING = "background_thread:true,dirty_decay_ms:2000,muzzy_decay_ms:0"


def configure_jemalloc() -> None:
    """Ask polars' jemalloc to return freed pages within two seconds (unless the user configured it)."""
    os.environ.setdefault(ENV, SETTING)
