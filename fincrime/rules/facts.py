"""Facts written in rule files, grouped by the relation they belong to, for bulk loading.

A rule file may hold tens of thousands of facts; executors load each relation's facts as one
frame (one deduplication per relation) instead of inserting them one at a time.

>>> from fincrime.rules.parser import parse_program
>>> prog = parse_program(":C[:a] . :C[:b] . :p[:a, 1] .", prefixes={"": "http://e/"})
>>> {str(k): rows for k, rows in fact_rows(prog.facts).items()}
{'[?, a, <http://e/C>]': [('<http://e/a>',), ('<http://e/b>',)], '[?, <http://e/p>, ?]': [('<http://e/a>', '"1"^^<http://www.w3.org/2001/XMLSchema#integer>')]}
"""

from __future__ import annotations

from collections.abc import Iterable

from fincrime.rules.ast import Atom, Const, Rule
from fincrime.rules.plan import RelKey, atom_key


def stored_terms(atom: Atom, key: RelKey) -> tuple[str, ...]:
    """The constants of a ground atom in the order of its relation's stored columns:
    ``s`` for a class, ``s, o`` for a predicate, every argument for a tuple table."""
    args = atom.args
    if key.kind == "c":
        args = (args[0],)
    elif key.kind == "p":
        args = (args[0], args[2])
    terms = []
    for arg in args:
        if not isinstance(arg, Const):
            raise ValueError(f"not a ground atom: {atom}")
        terms.append(arg.term)
    return tuple(terms)


def fact_rows(facts: Iterable[Rule]) -> dict[RelKey, list[tuple[str, ...]]]:
    """Every fact's head atoms as rows of term strings, per relation, in program order."""
    out: dict[RelKey, list[tuple[str, ...]]] = {}
    for fact in facts:
        for atom in fact.head:
            key = atom_key(atom)
            out.setdefault(key, []).append(stored_terms(atom, key))
    return out
