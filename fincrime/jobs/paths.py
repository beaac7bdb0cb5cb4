"""Path safety for untrusted specs: every pattern resolves to files inside the dataset folder.

A pattern is refused when it is absolute, uses ``~``, a ``..`` component, a backslash or a NUL
byte; a match is refused when it is not a regular file or when, once symlinks are resolved, it
lies outside the dataset folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from fincrime.jobs.problems import Problem

#: File name endings accepted for each kind of input.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "data": (".nt", ".nt.gz"),
    "rules": (".dlog",),
    "queries": (".rq",),
}
MAX_MATCHES = 10_000
_GLOB = re.compile(r"[*?\[]")


def pattern_problem(pattern: str) -> str | None:
    """Why a pattern may not be used, or None when it is acceptable.

    >>> pattern_problem("data/*.nt.gz") is None
    True
    >>> pattern_problem("../other/x.nt")
    "'..' is not allowed (paths must stay inside the dataset folder)"
    """
    if "\x00" in pattern:
        return "NUL byte in path"
    if "\\" in pattern:
        return "backslash in path (use '/')"
    if pattern.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", pattern):
        return "absolute paths are not allowed (paths are relative to the spec's folder)"
    parts = PurePosixPath(pattern).parts
    if ".." in parts:
        return "'..' is not allowed (paths must stay inside the dataset folder)"
    if not parts:
        return "empty path"
    return None


def inside(path: Path, root: Path) -> bool:
    """True when ``path`` (symlinks resolved) is ``root`` or below it; ``root`` must be resolved."""
    try:
        path.resolve(strict=True).relative_to(root)
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def resolve_patterns(
    root: Path, patterns: list[str], kind: str, where: str
) -> tuple[list[Path], list[Problem]]:
    """Expands ``patterns`` under ``root`` (resolved) into sorted, unique, safe files.

    ``where`` prefixes each problem (``"demo.job.json: data"``). Returns the files and every
    problem found; a pattern with a problem contributes no file.
    """
    problems: list[Problem] = []
    found: dict[Path, None] = {}
    suffixes = SUFFIXES[kind]
    for i, pattern in enumerate(patterns):
        at = f"{where}[{i}]" if len(patterns) > 1 else where
        why = pattern_problem(pattern)
        if why:
            problems.append(Problem(at, f"{pattern!r}: {why}"))
            continue
        if _GLOB.search(pattern):
            candidates = sorted(root.glob(pattern))
        else:
            candidates = [root / pattern] if os.path.lexists(root / pattern) else []
        if not candidates:
            problems.append(Problem(at, f"{pattern!r} matches no file in {root}"))
            continue
        before, accepted = len(problems), 0
        for candidate in candidates:
            if not inside(candidate, root):
                problems.append(Problem(at, f"{candidate.relative_to(root)}: resolves outside the dataset folder (symlink?)"))
                continue
            real = candidate.resolve()
            if not real.is_file():
                if not _GLOB.search(pattern):
                    problems.append(Problem(at, f"{pattern!r} is not a regular file"))
                continue
            if not real.name.endswith(suffixes) and not candidate.name.endswith(suffixes):
                if not _GLOB.search(pattern):
                    problems.append(Problem(at, f"{pattern!r}: expected a {' or '.join(suffixes)} file"))
                continue
            found[candidate.absolute()] = None
            accepted += 1
            if len(found) > MAX_MATCHES:
                problems.append(Problem(at, f"more than {MAX_MATCHES} files match"))
                return [], problems
        if not accepted and len(problems) == before:
            problems.append(Problem(at, f"{pattern!r} matches no {' or '.join(suffixes)} file"))
    return list(found), problems
