"""Reading body stars from entity tables and cached star joins.

A body star (:func:`fincrime.rules.stars.body_stars`) over predicates that an entity table holds
is answered, for the table's subjects, by one scan of the table; for every other subject, by the
ordinary join of the star's atoms over the relations *without* that table. The body is
evaluated once per choice (a *branch*) and the answers are united. By the entity-table invariant
(:mod:`.entities`) no answer comes from two branches.

Two more cuts keep the ordinary join small:

* an entity table whose subjects can have no fact of some predicate of the star (the relation's
  own facts have no subject in the table's id range) is left out of the star's atoms: a chain
  table never meets ``[?t, a, :Transaction]``;
* a star whose atoms then read only their relations' own facts, all in full, is joined once and
  kept while those relations do not change (the transactions' attributes, read every round).

Each branch is a body whose star atoms are replaced by *overlay atoms*: tuple-table atoms with
reserved names that the executor resolves through :class:`Overlay`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from fincrime.engine.memory.entities import EntityTable
from fincrime.engine.memory.relations import Relation
from fincrime.rules.ast import Atom, Var
from fincrime.rules.plan import BodyPlan, RelKey, atom_key
from fincrime.rules.stars import BodyStar, body_stars

OVERLAY_PREFIX = "\x00star"
MAX_BRANCHES = 16


@dataclass
class OverlaySource:
    frame: Callable[[str], pl.DataFrame]  # mode -> frame with columns c0..cn
    size: Callable[[str], int]
    # a frame that does not change while it is cached (a star joined once): what is derived
    # from this source's full facts may be kept as long as it is the same object
    stable: pl.DataFrame | None = None


class Overlay:
    """Overlay atoms' facts, by reserved table name."""

    def __init__(self) -> None:
        self.sources: dict[str, OverlaySource] = {}
        self._n = 0

    def add(self, source: OverlaySource) -> str:
        self._n += 1
        name = f"{OVERLAY_PREFIX}{self._n}"
        self.sources[name] = source
        return name

    def get(self, key: RelKey) -> OverlaySource | None:
        if key.kind != "t" or not key.name.startswith(OVERLAY_PREFIX):
            return None
        return self.sources.get(key.name)

    def clear(self) -> None:
        self.sources.clear()


@dataclass(frozen=True)
class Branch:
    body: BodyPlan
    modes: tuple[str, ...]
    recursive: frozenset[int]


def entity_mode(modes: list[str]) -> str | None:
    """The facts of an entity row all have one age: the mode its scan reads for atoms reading
    ``modes`` (None: no row can satisfy both ``old`` and ``delta``)."""
    if "delta" in modes:
        return None if "old" in modes else "delta"
    return "old" if "old" in modes else "full"


class StarReader:
    def __init__(self, relation: Callable[[RelKey], Relation | None], entities: Callable[[], list[EntityTable]]) -> None:
        self._relation = relation
        self._entities = entities
        self.overlay = Overlay()
        self._stars: dict[int, list[BodyStar]] = {}
        self._joined: dict[tuple, tuple[tuple[int, ...], pl.DataFrame | None]] = {}

    def reset(self) -> None:
        self.overlay.clear()

    def stars(self, body: BodyPlan) -> list[BodyStar]:
        found = self._stars.get(id(body))
        if found is None:
            found = self._stars[id(body)] = body_stars(body.atoms)
        return found

    # --- branches -----------------------------------------------------------------------------
    def branches(self, body: BodyPlan, modes: tuple[str, ...], recursive: frozenset[int]) -> list[Branch] | None:
        """The bodies to evaluate instead of ``body`` (None: evaluate ``body`` as it is)."""
        tables = [t for t in self._entities() if t.lowest is not None]
        stars = self.stars(body)
        if not stars:
            return None
        options: list[list[tuple]] = []
        changed = False
        for star in stars:
            members = star.classes + star.predicates
            covering = [t for t in tables if all(t.holds(m) for m in members)]
            choices: list[tuple] = []
            for table in covering:
                mode = entity_mode([modes[k] for k in star.atoms])
                if mode is not None and table.size(mode):
                    choices.append(("entity", table, mode))
            excluded = set(covering) | {t for t in tables if t not in covering and self._cannot_meet(star, body, t)}
            cached = self._static_join(star, body, modes, excluded)
            choices.append(("cached", cached) if cached is not None else ("plain", frozenset(excluded)))
            changed |= bool(covering) or bool(excluded) or cached is not None
            options.append(choices)
        if not changed:
            return None
        combos = list(itertools.product(*options))
        if len(combos) > MAX_BRANCHES:
            return None
        return [self._branch(body, modes, recursive, stars, combo) for combo in combos]

    def _cannot_meet(self, star: BodyStar, body: BodyPlan, table: EntityTable) -> bool:
        """No subject of ``table`` can match ``star``: some atom's predicate is not in the table
        and that relation's own facts have no subject in the table's id range."""
        for k in star.atoms:
            key = atom_key(body.atoms[k])
            if table.holds(key.name):
                continue
            rel = self._relation(key)
            span = rel.subject_range() if rel is not None else None
            assert table.lowest is not None and table.highest is not None
            if span is None or span[1] < table.lowest or span[0] > table.highest:
                return True
        return False

    def _static_join(self, star: BodyStar, body: BodyPlan, modes: tuple[str, ...], excluded: set[EntityTable]) -> pl.DataFrame | None:
        """The join of a star's atoms when each reads all of its relation's own facts and
        nothing else, kept while those relations do not change (None otherwise)."""
        if any(modes[k] != "full" for k in star.atoms):
            return None
        rels = []
        for k in star.atoms:
            rel = self._relation(atom_key(body.atoms[k]))
            if rel is None or rel.own_size("delta") or any(t not in excluded for t in rel.entities):
                return None
            rels.append(rel)
        signature = tuple(rel.own_size("full") for rel in rels)
        cache_key = tuple(rel.key for rel in rels)
        found = self._joined.get(cache_key)
        if found is not None and found[0] == signature:
            return found[1]
        joined = self._join_star(rels)
        self._joined[cache_key] = (signature, joined)
        return joined

    @staticmethod
    def _join_star(rels: list[Relation]) -> pl.DataFrame | None:
        """``s, c1 .. cn``: the join on the subject of the relations' own facts (None when it
        would be larger than twice its largest relation: a multi-valued star is better joined
        atom by atom)."""
        order = sorted(range(len(rels)), key=lambda i: rels[i].own_size("full"))
        largest = max(rel.own_size("full") for rel in rels)
        frame: pl.DataFrame | None = None
        for i in order:
            own = rels[i].own_view("full")
            part = own.select(pl.col(own.columns[0]).alias("s"), *(
                [pl.col(own.columns[1]).alias(f"o{i}")] if len(own.columns) > 1 else []
            ))
            frame = part if frame is None else frame.join(part, on="s", how="inner")
            if frame.height > 2 * largest:
                return None
        assert frame is not None
        columns = [pl.col("s").alias("c0")]
        for i, rel in enumerate(rels):
            if rel.key.kind == "p":
                columns.append(pl.col(f"o{i}"))
        return frame.select(columns).rename({f"o{i}": f"c{n}" for n, i in enumerate(
            [i for i, rel in enumerate(rels) if rel.key.kind == "p"], 1)})

    def _branch(self, body: BodyPlan, modes: tuple[str, ...], recursive: frozenset[int], stars: list[BodyStar], combo: tuple) -> Branch:
        in_star = {k for star in stars for k in star.atoms}
        atoms = [a for k, a in enumerate(body.atoms) if k not in in_star]
        new_modes = [modes[k] for k in range(len(body.atoms)) if k not in in_star]
        new_recursive = {n for n, k in enumerate(k for k in range(len(body.atoms)) if k not in in_star) if k in recursive}
        for star, choice in zip(stars, combo, strict=True):
            star_atoms = [body.atoms[k] for k in star.atoms]
            star_recursive = any(k in recursive for k in star.atoms)
            if choice[0] == "entity":
                _, table, mode = choice
                atoms.append(self._entity_atom(star, star_atoms, table))
                new_modes.append(mode)
                if star_recursive:
                    new_recursive.add(len(atoms) - 1)
            elif choice[0] == "cached":
                atoms.append(self._cached_atom(star_atoms, choice[1]))
                new_modes.append("full")
            else:
                excluded = choice[1]
                for k, atom in zip(star.atoms, star_atoms, strict=True):
                    rel = self._relation(atom_key(atom))
                    if rel is not None and any(t in excluded for t in rel.entities):
                        atom = self._plain_atom(atom, rel, excluded)
                    atoms.append(atom)
                    new_modes.append(modes[k])
                    if k in recursive:
                        new_recursive.add(len(atoms) - 1)
        new_body = BodyPlan(atoms, body.filters, body.binds, body.negations, body.aggregates)
        return Branch(new_body, tuple(new_modes), frozenset(new_recursive))

    # --- overlay atoms --------------------------------------------------------------------
    def _entity_atom(self, star: BodyStar, star_atoms: list[Atom], table: EntityTable) -> Atom:
        columns = ["s"]
        args = [Var(star.subject)]
        for atom in star_atoms:
            key = atom_key(atom)
            if key.kind == "p":
                columns.append(table.column_of(key.name))
                args.append(atom.args[2])

        def frame(mode: str) -> pl.DataFrame:
            view = table.view(mode)
            return view.select([pl.col(c).alias(f"c{i}") for i, c in enumerate(columns)])

        name = self.overlay.add(OverlaySource(frame, table.size))
        return Atom(tuple(args), table=name)

    def _cached_atom(self, star_atoms: list[Atom], joined: pl.DataFrame) -> Atom:
        # the cached join's columns follow the star's atoms in order, predicates only
        args = [star_atoms[0].args[0], *(a.args[2] for a in star_atoms if atom_key(a).kind == "p")]

        def frame(mode: str) -> pl.DataFrame:
            return joined if mode != "delta" else joined.clear()

        def size(mode: str) -> int:
            return joined.height if mode != "delta" else 0

        name = self.overlay.add(OverlaySource(frame, size, stable=joined))
        return Atom(tuple(args), table=name)

    def _plain_atom(self, atom: Atom, rel: Relation, excluded: frozenset[EntityTable]) -> Atom:
        kind = atom_key(atom).kind
        args = (atom.args[0],) if kind == "c" else (atom.args[0], atom.args[2])

        def frame(mode: str) -> pl.DataFrame:
            view = rel.view(mode, exclude=excluded)
            return view.select([pl.col(c).alias(f"c{i}") for i, c in enumerate(view.columns)])

        def size(mode: str) -> int:
            return rel.size(mode, exclude=excluded)

        name = self.overlay.add(OverlaySource(frame, size))
        return Atom(args, table=name)
