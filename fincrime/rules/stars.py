"""Stars: atoms that describe one subject, in rule heads and bodies.

A rule that mints a node usually writes several facts about it at once (a chain's originator,
beneficiary, dates, amounts ...), and the rule that extends it reads them all back. Stored as
separate triple relations, each round would join one relation per attribute; stored as one row
per subject (an *entity table*), the facts come back in one scan. This module finds those
groups; executors decide how to store and read them (see ``engine/memory/entities.py``).

A *head shape* is a group of head atoms with the same subject variable, each a class atom
``[?c, a, C]`` or a triple atom with a constant predicate, no predicate twice. A *body star*
is a group of at least two positive body atoms of those forms with the same subject variable.

>>> from fincrime.rules.parser import parse_program
>>> prog = parse_program(
...     "[?c, a, :Chain], [?c, :from, ?x], [?c, :to, ?y] :- [?t, :from, ?x], [?t, :to, ?y], "
...     "BIND(IRI(CONCAT('c', STR(?t))) AS ?c) .", prefixes={"": "http://e/"})
>>> shape = head_shapes(prog.rules[0])[0]
>>> shape.subject, shape.classes, [p.rsplit('/', 1)[-1] for p in shape.predicates]
('c', ('<http://e/Chain>',), ['from>', 'to>'])
>>> [(s.subject, s.atoms) for s in body_stars(prog.rules[0].body)]
[('t', (0, 1))]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fincrime.rdf.terms import iri
from fincrime.rules.ast import Arg, Atom, BodyItem, Const, Rule, Var
from fincrime.vocab import RDF_TYPE

TYPE_IRI = iri(RDF_TYPE)


def star_member(atom: Atom) -> tuple[str, str, str] | None:
    """``(subject variable, "c" or "p", class or predicate)`` for an atom that can belong to a
    star, else None."""
    if atom.table is not None or getattr(atom, "graph", None) is not None:
        return None
    s, p, o = atom.args
    if not isinstance(s, Var) or not isinstance(p, Const):
        return None
    if p.term == TYPE_IRI:
        if isinstance(o, Const):
            return (s.name, "c", o.term)
        return None
    return (s.name, "p", p.term)


@dataclass(frozen=True)
class HeadShape:
    """Head atoms ``atoms`` (positions in the head) about one subject variable: ``classes``
    it joins and ``predicates`` with their object arguments ``objects``."""

    subject: str
    atoms: tuple[int, ...]
    classes: tuple[str, ...]
    predicates: tuple[str, ...]
    objects: tuple[Arg, ...]


def head_shapes(rule: Rule, min_atoms: int = 3) -> list[HeadShape]:
    """The head shapes of a rule that are worth one row per subject (``min_atoms`` or more)."""
    groups: dict[str, list[int]] = {}
    for i, atom in enumerate(rule.head):
        member = star_member(atom)
        if member is not None:
            groups.setdefault(member[0], []).append(i)
    shapes = []
    for subject, positions in groups.items():
        classes: list[str] = []
        preds: list[str] = []
        objects: list[Arg] = []
        atoms: list[int] = []
        for i in positions:
            _, kind, name = star_member(rule.head[i])  # type: ignore[misc]
            if name in classes or name in preds:
                continue  # a predicate twice: not one value per subject; stays a triple
            atoms.append(i)
            if kind == "c":
                classes.append(name)
            else:
                preds.append(name)
                objects.append(rule.head[i].args[2])
        if len(atoms) >= min_atoms and preds:
            shapes.append(HeadShape(subject, tuple(atoms), tuple(classes), tuple(preds), tuple(objects)))
    return shapes


@dataclass(frozen=True)
class BodyStar:
    """Positive body atoms (positions among the body's atoms) about one subject variable."""

    subject: str
    atoms: tuple[int, ...]
    classes: tuple[str, ...]
    predicates: tuple[str, ...]


def body_stars(items: Sequence[BodyItem] | Sequence[Atom]) -> list[BodyStar]:
    """Stars among the positive atoms of a body (``items`` in body order; positions count atoms
    only, as in :class:`fincrime.rules.plan.BodyPlan`)."""
    atoms = [a for a in items if isinstance(a, Atom)]
    groups: dict[str, list[int]] = {}
    for i, atom in enumerate(atoms):
        member = star_member(atom)
        if member is not None:
            groups.setdefault(member[0], []).append(i)
    stars = []
    for subject, positions in groups.items():
        if len(positions) < 2:
            continue
        classes = tuple(star_member(atoms[i])[2] for i in positions if star_member(atoms[i])[1] == "c")  # type: ignore[index]
        preds = tuple(star_member(atoms[i])[2] for i in positions if star_member(atoms[i])[1] == "p")  # type: ignore[index]
        stars.append(BodyStar(subject, tuple(positions), classes, preds))
    return stars


__all__ = ["BodyStar", "HeadShape", "body_stars", "head_shapes", "star_member"]
