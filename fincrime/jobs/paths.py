"""Path safety for untrusted specs: every pattern resolves to files inside the dataset folder.

A pattern is refused when it is absolute, uses ``~``, a ``..`` component, a backslash or a NUL
byte; a match is refused when it is not a regular file or when, once symlinks are resolved, it
lies outside the dataset folder. Globs are expanded by :func:`safe_glob`, which never looks
inside a linked folder that lies outside the dataset folder, so a problem report names the
link, never what is behind it.
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path, PurePosixPath

from fincrime.jobs.problems import Problem

#: File name endings accepted for each kind of input.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "data": (".nt", ".nt.gz"),
    "rules": (".dlog",),
    "queries": (".rq",),
    "ground_truth": (".nt", ".nt.gz", ".csv"),
}
MAX_MATCHES = 10_000
MAX_VISITED = 200_000  # directory entries one spec may make us look at
_GLOB = re.compile(r"[*?\[]")


class TooManyEntries(Exception):
    """A glob would visit more than :data:`MAX_VISITED` directory entries."""


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


def _entries(folder: Path, budget: list[int]) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return []
    budget[0] -= len(entries)
    if budget[0] < 0:
        raise TooManyEntries
    return entries


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def safe_glob(root: Path, pattern: str) -> tuple[list[Path], list[str]]:
    """Expands a relative glob under ``root`` (resolved) as ``Path.glob`` would, except that a
    symlinked folder resolving outside ``root`` is not entered: it is returned, relative, in the
    second list instead. ``**`` matches any depth of folders inside ``root`` (each real folder
    visited once, so link loops end).

    >>> import tempfile; root = Path(tempfile.mkdtemp()).resolve(); (root / "a.nt").write_text("")
    0
    >>> os.symlink("/", root / "up"); safe_glob(root, "*/*.nt")
    ([], ['up'])
    """
    parts = PurePosixPath(pattern).parts
    budget = [MAX_VISITED]
    escapes: dict[str, None] = {}
    current = [root]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        found: list[Path] = []
        if part == "**":
            seen: set[Path] = set()
            stack = list(reversed(current))
            while stack:
                folder = stack.pop()
                real = folder.resolve()
                if real in seen:
                    continue
                seen.add(real)
                found.append(folder)
                subfolders = []
                for entry in _entries(folder, budget):
                    if _is_dir(entry):
                        child = folder / entry.name
                        if entry.is_symlink() and not inside(child, root):
                            escapes[child.relative_to(root).as_posix()] = None
                        else:
                            subfolders.append(child)
                stack.extend(reversed(subfolders))
            if last:
                found = [f for f in found if f != root]
        else:
            for folder in current:
                if _GLOB.search(part):
                    names = [e.name for e in _entries(folder, budget) if fnmatch.fnmatchcase(e.name, part)]
                else:
                    names = [part] if os.path.lexists(folder / part) else []
                for name in names:
                    child = folder / name
                    if last:
                        found.append(child)
                    elif child.is_dir():
                        if child.is_symlink() and not inside(child, root):
                            escapes[child.relative_to(root).as_posix()] = None
                        else:
                            found.append(child)
        current = list(dict.fromkeys(found))
        if not current:
            break
    return sorted(current) if parts else [], list(escapes)


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
        escapes: list[str] = []
        if _GLOB.search(pattern):
            try:
                candidates, escapes = safe_glob(root, pattern)
            except TooManyEntries:
                problems.append(Problem(at, f"{pattern!r}: more than {MAX_VISITED:,} entries to search"))
                continue
        else:
            candidates = [root / pattern] if os.path.lexists(root / pattern) else []
        for link in escapes:
            problems.append(Problem(at, f"{link}: a link to a folder outside the dataset folder (not searched)"))
        if not candidates:
            if not escapes:
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
