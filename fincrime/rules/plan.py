"""The relational plan (IR) shared by every executor.

A program is split into strata (stratified negation and aggregation); each stratum holds rule
plans and is evaluated to a fixpoint semi-naively: a recursive rule is run once per body atom that
can see new facts, with that atom reading only the facts of the last round (``delta``), the atoms
before it the facts older than that (``old``) and the atoms after it all facts (``full``), so every
combination with at least one new fact is produced exactly once.

Atoms address relations by :class:`RelKey`: a triple atom with a constant predicate reads the
relation of that predicate; ``rdf:type`` with a constant class reads that class's relation;
a variable predicate reads every triple relation; tuple-table atoms read their table.

The order of joins is chosen per evaluation by :func:`schedule` from relation sizes the executor
reports, so one scheduling policy serves all executors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from fincrime.errors import SourceError
from fincrime.rdf.terms import iri
from fincrime.rules.ast import (
    AggBind,
    Aggregate,
    Atom,
    Bind,
    BodyItem,
    Const,
    Expr,
    Filter,
    Negation,
    Program,
    Rule,
    Var,
    expr_vars,
)
from fincrime.vocab import RDF_TYPE

TYPE_IRI = iri(RDF_TYPE)


@dataclass(frozen=True, slots=True)
class RelKey:
    """``kind`` is ``p`` (triples of one predicate: cols s, o), ``c`` (members of one class:
    col s), ``t`` (a tuple table: cols c0..cn) or ``*`` (all triples).

    ``graph`` says which graph a triple relation belongs to: ``""`` the default graph, a term
    (``<iri>``) one named graph, or :data:`ANY_GRAPH` for an atom whose graph is a variable,
    which reads every named graph (never the default one, as in RDFox). Stored relations
    always have ``""`` or a term."""

    kind: str
    name: str = ""
    arity: int = 2
    graph: str = ""

    def __str__(self) -> str:
        if self.kind == "c":
            text = f"[?, a, {self.name}]"
        elif self.kind == "p":
            text = f"[?, {self.name}, ?]"
        elif self.kind == "t":
            return f"{self.name}/{self.arity}"
        else:
            text = "[?, ?, ?]"
        return f"{text} {self.graph}" if self.graph else text


ALL_TRIPLES = RelKey("*")
ANY_GRAPH = "?"


def atom_key(atom: Atom) -> RelKey:
    if atom.table is not None:
        return RelKey("t", atom.table, len(atom.args))
    _, p, o = atom.args
    g = atom.graph
    graph = "" if g is None else (g.term if isinstance(g, Const) else ANY_GRAPH)
    if isinstance(p, Const):
        if p.term == TYPE_IRI and isinstance(o, Const):
            return RelKey("c", o.term, 1, graph)
        return RelKey("p", p.term, 2, graph)
    return RelKey("*", "", 2, graph)


def graphs_overlap(a: str, b: str) -> bool:
    """Can relations of graphs ``a`` and ``b`` hold the same fact?"""
    if a == b:
        return True
    return ANY_GRAPH in (a, b) and "" not in (a, b)


def keys_overlap(a: RelKey, b: RelKey) -> bool:
    """Could a fact of relation ``a`` be read by an atom of relation ``b`` (or vice versa)?"""
    if a.kind == "t" or b.kind == "t":
        return a == b
    if not graphs_overlap(a.graph, b.graph):
        return False
    if a.kind == "*" or b.kind == "*":
        return True
    if a.kind == b.kind:
        return a.name == b.name
    p, c = (a, b) if a.kind == "p" else (b, a)
    return p.name == TYPE_IRI and c.kind == "c"


def is_stored(key: RelKey) -> bool:
    """Is ``key`` one stored relation (rather than a union of several)?"""
    return key.graph != ANY_GRAPH and (key.kind in ("c", "t") or (key.kind == "p" and key.name != TYPE_IRI))


def matching_keys(key: RelKey, stored: Iterable[RelKey]) -> list[RelKey]:
    """The stored relations an atom of relation ``key`` reads."""
    if is_stored(key):
        return [key]
    graphs = [k for k in stored if k.kind != "t" and graphs_overlap(k.graph, key.graph) and k.graph != ANY_GRAPH]
    if key.kind in ("c", "p") and key.name != TYPE_IRI:  # one class or predicate, any named graph
        return [k for k in graphs if k.kind == key.kind and k.name == key.name]
    if key.kind == "p":  # [?x, rdf:type, ?C] reads every class relation
        return [k for k in graphs if k.kind == "c"]
    return [k for k in graphs if k.kind in ("p", "c")]


# --- plans -------------------------------------------------------------------------------------


@dataclass
class BodyPlan:
    """A conjunction: positive atoms plus the operations that refer to them."""

    atoms: list[Atom]
    filters: list[Filter]
    binds: list[Bind]
    negations: list[NegationPlan]
    aggregates: list[AggregatePlan]

    @property
    def keys(self) -> list[RelKey]:
        return [atom_key(a) for a in self.atoms]


@dataclass
class NegationPlan:
    body: BodyPlan
    exists: tuple[str, ...]
    node: Negation


@dataclass
class AggregatePlan:
    body: BodyPlan
    group: tuple[str, ...]
    binds: tuple[AggBind, ...]
    node: Aggregate

    @property
    def outputs(self) -> set[str]:
        return set(self.group) | {b.var for b in self.binds}


@dataclass
class RulePlan:
    index: int  # position in the program, for statistics
    rule: Rule
    body: BodyPlan
    recursive_atoms: list[int] = field(default_factory=list)  # atom positions that read delta

    @property
    def head(self) -> tuple[Atom, ...]:
        return self.rule.head


@dataclass
class Stratum:
    rules: list[RulePlan]
    recursive: bool

    @property
    def head_keys(self) -> set[RelKey]:
        return {atom_key(h) for r in self.rules for h in r.head}

    def watched_keys(self, stored: Iterable[RelKey]) -> list[RelKey]:
        """Stored relations whose new facts give this stratum another round."""
        stored = list(stored)
        keys: set[RelKey] = set()
        for rp in self.rules:
            for k in rp.recursive_atoms:
                keys |= set(matching_keys(atom_key(rp.body.atoms[k]), stored))
        return list(keys)


@dataclass
class ProgramPlan:
    facts: list[Rule]
    strata: list[Stratum]

    def rule_plans(self) -> list[RulePlan]:
        return [r for s in self.strata for r in s.rules]


def plan_body(items: tuple[BodyItem, ...]) -> BodyPlan:
    body = BodyPlan([], [], [], [], [])
    for item in items:
        if isinstance(item, Atom):
            body.atoms.append(item)
        elif isinstance(item, Filter):
            body.filters.append(item)
        elif isinstance(item, Bind):
            body.binds.append(item)
        elif isinstance(item, Negation):
            body.negations.append(NegationPlan(plan_body(item.body), item.exists, item))
        elif isinstance(item, Aggregate):
            body.aggregates.append(AggregatePlan(plan_body(item.body), item.group, item.binds, item))
    return body


def _negative_keys(body: BodyPlan) -> list[RelKey]:
    keys: list[RelKey] = []
    for n in body.negations:
        keys += n.body.keys + _negative_keys(n.body)
    for a in body.aggregates:
        keys += a.body.keys + _negative_keys(a.body)
    return keys


def build_plan(program: Program) -> ProgramPlan:
    """Stratify a program and plan each rule; raise when negation or aggregation is recursive.

    The plan is kept on the program: planning it again (the engine, after ``load_program``
    checked it) returns the same plan, until its rules change.
    """
    rules = tuple(program.rules)
    if program.plan_cache is not None and program.plan_cache[0] == rules:
        return program.plan_cache[1]  # type: ignore[no-any-return]
    plan = _plan(program)
    program.plan_cache = (rules, plan)
    return plan


def _plan(program: Program) -> ProgramPlan:
    facts = [r for r in program.rules if r.is_fact]
    rules = [r for r in program.rules if not r.is_fact]
    plans = [RulePlan(i, r, plan_body(r.body)) for i, r in enumerate(rules)]
    heads = [{atom_key(h) for h in r.head} for r in rules]
    pos_keys = [p.body.keys for p in plans]
    neg_keys = [_negative_keys(p.body) for p in plans]

    # edges: rule j -> rule i when i reads what j writes
    n = len(plans)
    deps: list[list[tuple[int, bool]]] = [[] for _ in range(n)]  # i -> [(j, negative)]
    for i in range(n):
        for j in range(n):
            if any(keys_overlap(k, h) for k in pos_keys[i] for h in heads[j]):
                deps[i].append((j, False))
            if any(keys_overlap(k, h) for k in neg_keys[i] for h in heads[j]):
                deps[i].append((j, True))

    components = _sccs(n, [[j for j, _ in d] for d in deps])
    for comp in components:
        members = set(comp)
        for i in comp:
            for j, negative in deps[i]:
                if negative and j in members:
                    raise _cycle_error(plans, i, j, neg_keys[i], heads[j])

    strata: list[Stratum] = []
    for comp in components:  # Tarjan yields components in dependency order
        members = set(comp)
        stratum_rules = [plans[i] for i in sorted(comp)]
        stratum_heads = set().union(*(heads[i] for i in comp))
        recursive = any(j in members for i in comp for j, _ in deps[i])
        for rp in stratum_rules:
            rp.recursive_atoms = [
                k for k, key in enumerate(rp.body.keys)
                if recursive and any(keys_overlap(key, h) for h in stratum_heads)
            ]
        strata.append(Stratum(stratum_rules, recursive))
    return ProgramPlan(facts, strata)


def _cycle_error(plans, i, j, neg, heads) -> SourceError:  # type: ignore[no-untyped-def]
    rule = plans[i].rule
    through = sorted({str(k) for k in neg for h in heads if keys_overlap(k, h)})
    head_preds = sorted({str(k) for k in (atom_key(h) for h in rule.head)})
    message = (
        "the program cannot be stratified: "
        + " / ".join(head_preds)
        + " depends on "
        + " / ".join(through)
        + " through NOT or AGGREGATE on a recursive cycle"
    )
    pos = rule.pos
    return SourceError(
        message, source=pos.source if pos else "<rules>", line=pos.line if pos else 1,
        column=pos.column if pos else None,
    )


def _sccs(n: int, edges: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative; components come out dependencies first."""
    index = 0
    idx = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    out: list[list[int]] = []
    for root in range(n):
        if idx[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            v, pi = work.pop()
            if pi == 0:
                idx[v] = low[v] = index
                index += 1
                stack.append(v)
                on_stack[v] = True
            recurse = False
            for k in range(pi, len(edges[v])):
                w = edges[v][k]
                if idx[w] == -1:
                    work.append((v, k + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if on_stack[w]:
                    low[v] = min(low[v], idx[w])
            if recurse:
                continue
            if low[v] == idx[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


# --- join ordering -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One operation of a scheduled body. ``op`` is one of ``scan``, ``join``, ``bind``,
    ``filter``, ``anti`` (negation), ``agg`` (aggregate); ``mode`` says which facts an atom reads."""

    op: str
    atom: int = -1
    mode: str = "full"
    on: tuple[str, ...] = ()
    expr: Expr | None = None
    var: str = ""
    negation: NegationPlan | None = None
    aggregate: AggregatePlan | None = None
    # atoms (position, mode) to semi-join the atom's facts with before the join: a smaller atom
    # not joined yet that shares the atom's new variables drops facts that could never match it
    reducers: tuple[tuple[int, str], ...] = ()


SizeFn = Callable[[RelKey, str], int]


def atom_mode(position: int, delta_at: int | None) -> str:
    if delta_at is None:
        return "full"
    if position == delta_at:
        return "delta"
    return "old" if position < delta_at else "full"


@dataclass(frozen=True)
class Variant:
    """One semi-naive evaluation of a rule body: the facts each atom reads (``modes``).

    Besides ``old``, ``delta`` and ``full`` an atom may read ``keyed`` facts: its new facts plus
    those of its older facts whose ``pivot`` value occurs among the new facts of any atom of the
    ``group``. One keyed evaluation replaces the group's per-atom variants (see
    :func:`semi_naive_variants`).
    """

    modes: tuple[str, ...]
    pivot: str = ""
    group: tuple[int, ...] = ()

    @classmethod
    def at(cls, atoms: int, delta_at: int | None) -> Variant:
        return cls(tuple(atom_mode(k, delta_at) for k in range(atoms)))


def semi_naive_variants(rp: RulePlan, has_delta: Callable[[int], bool], grouped: bool = True) -> list[Variant]:
    """The evaluations of a recursive rule after a round that gave ``has_delta`` atoms new facts.

    Every body match with at least one new fact must be found. The classic scheme runs one
    variant per recursive atom. With ``grouped``, the recursive atoms that share a variable
    (the *pivot*, e.g. the chain all of whose attributes a rule reads) are evaluated once
    instead: each reads its new facts plus the older facts of the pivot values that have new
    facts, which covers every match with a new fact in the group; the other recursive atoms get
    classic variants in which the group reads old facts. For a rule reading nine attributes of
    a freshly minted node this is one join pipeline instead of nine.

    >>> from fincrime.rules.parser import parse_program
    >>> rule = "[?c, :next, ?x] :- [?c, :next, ?y], [?c, :next, ?z], [?y, :next, ?x] ."
    >>> rp = build_plan(parse_program(rule, prefixes={"": "http://e/"})).strata[0].rules[0]
    >>> [v.modes for v in semi_naive_variants(rp, lambda k: True)]
    [('keyed', 'keyed', 'full'), ('old', 'old', 'delta')]
    """
    n = len(rp.body.atoms)
    recursive = [k for k in rp.recursive_atoms if has_delta(k)]
    if not recursive:
        return []
    pivot, group = _pivot(rp.body, rp.recursive_atoms) if grouped else ("", [])
    out: list[Variant] = []
    if len(group) >= 2 and any(k in recursive for k in group):
        out.append(Variant(tuple("keyed" if k in group else "full" for k in range(n)), pivot, tuple(group)))
    else:
        group = []
    rest = [k for k in rp.recursive_atoms if k not in group]
    for i in rest:
        if i not in recursive:
            continue
        modes = ["old" if k in group or (k in rest and k < i) else "full" for k in range(n)]
        modes[i] = "delta"
        out.append(Variant(tuple(modes)))
    return out


def _pivot(body: BodyPlan, recursive: list[int]) -> tuple[str, list[int]]:
    """The variable shared by the most recursive atoms (ties: the first in body order)."""
    best, members = "", []
    for k in recursive:
        for var in sorted(body.atoms[k].variables()):
            group = [j for j in recursive if var in body.atoms[j].variables()]
            if len(group) > len(members):
                best, members = var, group
    return best, members


def schedule(
    body: BodyPlan, delta_at: int | Variant | None, size: SizeFn, outer: frozenset[str] = frozenset(),
) -> list[Step]:
    """Order a body: start at the (smallest) atom reading new facts, or the smallest atom, then
    greedily join the smallest connected atom; binds, filters and negations run as soon as their
    variables are bound. ``delta_at`` is a :class:`Variant`, the one atom reading new facts, or
    None (all atoms read all facts)."""
    variant = delta_at if isinstance(delta_at, Variant) else Variant.at(len(body.atoms), delta_at)
    modes = variant.modes
    bound: set[str] = set(outer)
    steps: list[Step] = []
    atoms_left = list(range(len(body.atoms)))
    aggs_left = list(body.aggregates)
    binds_left = list(body.binds)
    filters_left = list(body.filters)
    negs_left = list(body.negations)
    started = bool(outer)

    def est(k: int) -> float:
        atom = body.atoms[k]
        rows = size(atom_key(atom), modes[k])
        consts = sum(isinstance(a, Const) for a in atom.args)
        shared = len(atom.variables() & bound)
        base_consts = 1 if atom_key(atom).kind in ("p", "c") else 0
        return rows / (10.0 ** max(consts - base_consts, 0)) / (10.0 ** shared)

    def needed_later(var: str) -> bool:
        """Is a BIND's output read by a step still to come (not only by the head)?"""
        if any(var in body.atoms[k].variables() for k in atoms_left):
            return True
        if any(var in expr_vars(f.expr) for f in filters_left):
            return True
        if any(var in negation_outer_vars(n) for n in negs_left):
            return True
        if any(var in a.group for a in aggs_left):
            return True
        return any(var in expr_vars(b.expr) for b in binds_left if b.var != var)

    def flush(final: bool = False) -> None:
        # Filters and negations shrink the frame, so they go first; a BIND runs early only when
        # a later step reads its variable, otherwise after the last join, on the fewest rows.
        progress = True
        while progress:
            progress = False
            for f in list(filters_left):
                if expr_vars(f.expr) <= bound:
                    steps.append(Step("filter", expr=f.expr))
                    filters_left.remove(f)
            for neg in list(negs_left):
                if negation_outer_vars(neg) <= bound:
                    steps.append(Step("anti", on=tuple(sorted(negation_outer_vars(neg))), negation=neg))
                    negs_left.remove(neg)
            for b in list(binds_left):
                if expr_vars(b.expr) <= bound and (final or needed_later(b.var)):
                    steps.append(Step("bind", expr=b.expr, var=b.var))
                    bound.add(b.var)
                    binds_left.remove(b)
                    progress = True
                    break  # re-check filters that this binding enables

    fresh = [k for k in atoms_left if modes[k] in ("delta", "keyed")]
    if fresh:
        first = min(fresh, key=est)
    elif aggs_left and not atoms_left:
        first = -1
    else:
        linked = [k for k in atoms_left if body.atoms[k].variables() & bound]
        first = min(linked or atoms_left, key=est) if atoms_left else -1
    if first >= 0:
        atoms_left.remove(first)
        on = tuple(sorted(body.atoms[first].variables() & bound))
        steps.append(Step("join" if started else "scan", atom=first, mode=modes[first], on=on))
        bound |= body.atoms[first].variables()
        started = True
    elif aggs_left:
        agg = aggs_left.pop(0)
        steps.append(Step("agg", aggregate=agg))
        bound |= agg.outputs
        started = True
    def payload(k: int) -> bool:
        """An atom whose new variables only the head reads: joining it late, after the filters
        and on fewer rows, carries its columns through less work."""
        new_vars = body.atoms[k].variables() - bound
        if not new_vars:
            return False
        for j in atoms_left:
            if j != k and body.atoms[j].variables() & new_vars:
                return False
        used_elsewhere = set()
        for f in filters_left:
            used_elsewhere |= expr_vars(f.expr)
        for b in binds_left:
            used_elsewhere |= expr_vars(b.expr)
        for n in negs_left:
            used_elsewhere |= negation_outer_vars(n)
        for a in aggs_left:
            used_elsewhere |= set(a.group)
        return not (new_vars & used_elsewhere)

    def reducers_for(k: int) -> tuple[tuple[int, str], ...]:
        new_vars = body.atoms[k].variables() - bound
        if not new_vars:
            return ()
        own = size(atom_key(body.atoms[k]), modes[k])
        candidates = [
            j for j in atoms_left
            if body.atoms[j].variables() & new_vars
            and size(atom_key(body.atoms[j]), modes[j]) * 2 < own
        ]
        if not candidates:
            return ()
        j = min(candidates, key=lambda j: size(atom_key(body.atoms[j]), modes[j]))
        return ((j, modes[j]),)

    flush()
    while atoms_left or aggs_left:
        # a one-row relation (a rule parameter) costs nothing to cross with: take it early
        connected = [k for k in atoms_left if body.atoms[k].variables() & bound or est(k) <= 1]
        essential = [k for k in connected if not payload(k)]
        if essential:
            connected = essential
        agg_connected = [a for a in aggs_left if set(a.group) & bound]
        if agg_connected and not connected:
            agg = agg_connected[0]
            aggs_left.remove(agg)
            steps.append(Step("agg", on=tuple(sorted(set(agg.group) & bound)), aggregate=agg))
            bound |= agg.outputs
        elif connected or atoms_left:
            pool = connected or atoms_left
            k = min(pool, key=est)
            atoms_left.remove(k)
            on = tuple(sorted(body.atoms[k].variables() & bound))
            steps.append(
                Step("join" if started else "scan", atom=k, mode=modes[k], on=on,
                     reducers=reducers_for(k))
            )
            bound |= body.atoms[k].variables()
            started = True
        else:
            agg = aggs_left.pop(0)
            steps.append(Step("agg", on=tuple(sorted(set(agg.group) & bound)), aggregate=agg))
            bound |= agg.outputs
        flush()
    flush(final=True)
    return steps


def negation_outer_vars(neg: NegationPlan) -> set[str]:
    """Variables of a negation that come from the enclosing body."""
    inner: set[str] = set()
    for a in neg.body.atoms:
        inner |= a.variables()
    for f in neg.body.filters:
        inner |= expr_vars(f.expr)
    return inner - set(neg.exists)


def head_vars(rule: Rule) -> set[str]:
    out: set[str] = set()
    for h in rule.head:
        out |= h.variables()
    return out


__all__ = [
    "ALL_TRIPLES",
    "ANY_GRAPH",
    "AggregatePlan",
    "BodyPlan",
    "NegationPlan",
    "ProgramPlan",
    "RelKey",
    "RulePlan",
    "Step",
    "Stratum",
    "Var",
    "Variant",
    "atom_key",
    "build_plan",
    "graphs_overlap",
    "head_vars",
    "is_stored",
    "keys_overlap",
    "matching_keys",
    "schedule",
    "semi_naive_variants",
]
