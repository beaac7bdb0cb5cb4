"""How an atom's arguments select from its relation's columns (both executors).

>>> from fincrime.rules.ast import Const, Var
>>> match_columns(["s", "o"], [Var("x"), Const("<http://e/a>")])
([('o', '<http://e/a>')], [], {'x': 's'})
>>> match_columns(["s", "o"], [Var("x"), Var("x")])
([], [('o', 's')], {'x': 's'})
"""

from __future__ import annotations

from collections.abc import Sequence

from fincrime.rules.ast import Arg, Const, Var
from fincrime.rules.plan import RelKey


def columns_of(key: RelKey) -> tuple[str, ...]:
    """The columns of a relation: ``s, o`` of a predicate, ``s`` of a class, ``c0..`` of a tuple table."""
    if key.kind == "p":
        return ("s", "o")
    if key.kind == "c":
        return ("s",)
    return tuple(f"c{i}" for i in range(key.arity))


def match_columns(
    names: Sequence[str], args: Sequence[Arg],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], dict[str, str]]:
    """``(column, constant term)`` pairs to test, ``(column, earlier column)`` pairs that must be
    equal (a repeated variable), and the first column of each variable."""
    constants: list[tuple[str, str]] = []
    repeats: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    for name, arg in zip(names, args, strict=True):
        if isinstance(arg, Const):
            constants.append((name, arg.term))
        else:
            assert isinstance(arg, Var)
            if arg.name in first:
                repeats.append((name, first[arg.name]))
            else:
                first[arg.name] = name
    return constants, repeats, first


__all__ = ["columns_of", "match_columns"]
