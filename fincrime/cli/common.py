"""State and helpers shared by the CLI command modules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from fincrime.errors import InputError

console = Console()
console_err = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False


state = _State()


def parse_pairs(items: list[str], option: str, *, empty_name: bool = False) -> dict[str, str]:
    """The values of a repeatable ``--option name=value``, as text.

    ``--param`` values stay text here: :func:`fincrime.params.param_literal` types them, the
    same way for every command and for the rules and the queries of a job. ``empty_name``:
    the name may be empty (``--prefix =IRI`` replaces the default prefix).

    >>> parse_pairs(["highValueThreshold=50000", " start = 2024-01-01T00:00:00"], "param")
    {'highValueThreshold': '50000', 'start': '2024-01-01T00:00:00'}
    """
    pairs: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or (not name.strip() and not empty_name):
            raise InputError(f"--{option} {item!r}: expected name=value")
        pairs[name.strip()] = value.strip()
    return pairs


# Options that take several values after one flag, as a shell expands them
# (``--data dir/*.nt`` becomes ``--data dir/a.nt dir/b.nt``): command -> its options.
MULTI_VALUE_OPTIONS: dict[str, frozenset[str]] = {
    "reason": frozenset({"--rules", "-r", "--data", "-d"}),
    "explain": frozenset({"--rules", "-r", "--data", "-d"}),
}
# Commands whose positional arguments could follow such an option: only existing paths are
# taken as more values there (``explain`` ends with the fact to explain).
_HAS_POSITIONALS = frozenset({"explain"})


def spread_multi_values(argv: list[str]) -> list[str]:
    """Repeats a multi-value option before each of its values, so click sees one value each.

    >>> spread_multi_values(["reason", "-r", "a.dlog", "b.dlog", "--data", "x.nt", "y.nt", "--stats"])
    ['reason', '-r', 'a.dlog', '-r', 'b.dlog', '--data', 'x.nt', '--data', 'y.nt', '--stats']
    """
    command_at = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if command_at is None or argv[command_at] not in MULTI_VALUE_OPTIONS:
        return list(argv)
    command = argv[command_at]
    options = MULTI_VALUE_OPTIONS[command]
    out = list(argv[: command_at + 1])
    i = command_at + 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out += argv[i:]
            break
        out.append(arg)
        i += 1
        if arg in options and i < len(argv):
            out.append(argv[i])
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                value = argv[i]
                if command in _HAS_POSITIONALS and not (Path(value).exists() or any(c in value for c in "*?[")):
                    break
                out += [arg, value]
                i += 1
    return out
