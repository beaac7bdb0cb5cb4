"""Reading N-Triples files for stores that take them in pieces (SPARQL servers).

Every triple is parsed (a malformed file fails with its position before anything is sent),
written back in canonical N-Triples, and blank nodes are skolemized to IRIs: a blank node
label only means something inside one request, so batches sent separately would otherwise
split one node into several.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from fincrime.rdf import iter_frames
from fincrime.rdf.columns import skolemized
from fincrime.rdf.writer import statement_lines

GENID = "urn:fincrime:genid:"


def skolem_prefix(scope: str) -> str:
    """IRI prefix for the blank nodes of one graph, stable across runs (so reloads match).

    >>> skolem_prefix("urn:fincrime:job:a")
    'urn:fincrime:genid:772c413d8d03:'
    """
    return f"{GENID}{hashlib.sha1(scope.encode()).hexdigest()[:12]}:"


def canonical_lines(path: Path, scope: str) -> Iterator[str]:
    """The triples of an N-Triples file (``.nt`` or ``.nt.gz``) as canonical lines, skolemized,
    read by the project's one RDF reader (a bad line fails with its file, line and column)."""
    prefix = skolem_prefix(scope)
    for frame in iter_frames(path, quads=False):
        frame = frame.with_columns(skolemized("s", prefix), skolemized("o", prefix))
        for line in frame.select(statement_lines(frame).alias("line"))["line"]:
            yield line + "\n"


class Batches:
    """Iterates a file in batches of at most ``size`` distinct triples, counting as it goes.

    After iteration, ``distinct`` is the number of distinct triples the file holds: what a
    server's graph must contain when the load is complete.
    """

    def __init__(self, path: Path, scope: str, size: int) -> None:
        self.path = path
        self.scope = scope
        self.size = size
        self.distinct = 0
        self.lines = 0

    def __iter__(self) -> Iterator[str]:
        seen: set[bytes] = set()
        batch: list[str] = []
        for line in canonical_lines(self.path, self.scope):
            self.lines += 1
            digest = hashlib.blake2b(line.encode(), digest_size=12).digest()
            if digest in seen:
                continue
            seen.add(digest)
            batch.append(line)
            if len(batch) >= self.size:
                yield "".join(batch)
                batch = []
        self.distinct = len(seen)
        if batch:
            yield "".join(batch)
