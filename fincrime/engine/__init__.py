"""Executors of the rule plan behind one entry point, registered by name (:mod:`.registry`).

>>> from fincrime.rules import parse_program
>>> from fincrime.engine import materialize_frame
>>> import polars as pl
>>> prog = parse_program("[?x, :reaches, ?z] :- [?x, :pays, ?z] . "
...     "[?x, :reaches, ?z] :- [?x, :reaches, ?y], [?y, :pays, ?z] .", prefixes={"": "http://e/"})
>>> data = pl.DataFrame({"s": ["<http://e/a>", "<http://e/b>"], "p": ["<http://e/pays>"] * 2,
...     "o": ["<http://e/b>", "<http://e/c>"]})
>>> sorted(materialize_frame(prog, data).triples())[0]
('<http://e/a>', '<http://e/reaches>', '<http://e/b>')
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fincrime.engine import registry
from fincrime.engine.memory.run import materialize_frame
from fincrime.engine.progress import ProgressFn, progress_reporter
from fincrime.engine.result import Result
from fincrime.engine.sparql.heads import check_program
from fincrime.rules.ast import Program

#: the built-in engines (others come from the ``fincrime.engines`` entry points)
ENGINES = ("memory", "spark")


def materialize(
    program: Program,
    data_paths: Sequence[str | os.PathLike[str]] | Iterable[str | os.PathLike[str]],
    engine: str = "memory",
    engine_options: Mapping[str, Any] | None = None,
    progress: bool | ProgressFn = False,
) -> Result:
    """Load N-Triples and N-Quads files (plain or gzip) and materialize the program over them
    with the engine named ``engine`` (N-Quads statements of named graphs go to those graphs,
    which graph atoms read)."""
    run = registry.get(engine)
    checks = check_program(program)  # heads that could only write invalid N-Triples: before any data is read
    result: Result = run(program, list(data_paths), engine_options or {}, progress_reporter(progress), checks)
    return result


__all__ = ["ENGINES", "Result", "materialize", "materialize_frame"]
