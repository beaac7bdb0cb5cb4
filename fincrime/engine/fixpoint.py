"""The semi-naive fixpoint, written once for every executor.

The driver owns strata and rounds: a stratum's rules are evaluated once over everything, then,
while a relation the stratum reads recursively gained facts in the last round, again over the
new facts only (semi-naive evaluation, as in Soufflé and Nemo). It reports each round, and checks
the engine limits (:mod:`fincrime.engine.limits`) after each, on every executor alike.

An executor supplies what differs: how facts are stored and committed, how a rule is evaluated,
and which variants of a recursive rule it runs (:class:`Executor`). The in-memory executor runs
one variant per recursive atom that has new facts; the Spark executor groups them into one job.

>>> from fincrime.rules import parse_program
>>> from fincrime.rules.plan import build_plan
>>> class Counting:  # a toy executor: facts are numbers, one rule adds 1 below 3
...     def __init__(self): self.facts, self.new = {0}, set()
...     def prepare(self, plan): pass
...     def commit(self):
...         fresh = self.new - self.facts; self.facts |= fresh; self.new = set()
...         return {"n": len(fresh)}
...     def watched(self, stratum): return ["n"]
...     def has_delta(self, rule, atom): return True
...     def evaluate(self, rule, changed):
...         self.new |= {n + 1 for n in self.facts if n < 3}
...     def begin_round(self, recursive): pass
...     def fact_count(self): return len(self.facts)
>>> plan = build_plan(parse_program("[?x, :p, ?y] :- [?y, :p, ?x] .", prefixes={"": "http://e/"}))
>>> ex = Counting()
>>> run_fixpoint(ex, plan), sorted(ex.facts)
(4, [0, 1, 2, 3])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from fincrime.engine.limits import Limits
from fincrime.engine.progress import Progress
from fincrime.rules.plan import ProgramPlan, RulePlan, Stratum

ProgressFn = Callable[[Progress], None]


class Executor(Protocol):
    """What the driver needs of an executor."""

    def prepare(self, plan: ProgramPlan) -> None:
        """Set up storage for the plan's heads and add the rule files' facts (not committed)."""

    def commit(self) -> Mapping[object, int]:
        """Make the facts derived since the last commit the new delta; new facts per relation."""

    def watched(self, stratum: Stratum) -> Iterable[object]:
        """The stored relations whose new facts give ``stratum`` another round."""

    def has_delta(self, rule: RulePlan, atom: int) -> bool:
        """Whether body atom ``atom`` of ``rule`` has facts new in the last round."""

    def evaluate(self, rule: RulePlan, changed: list[int] | None) -> None:
        """Evaluate ``rule`` and keep what it derives (uncommitted): over everything when
        ``changed`` is None, else the matches that use a new fact of one of the recursive body
        atoms ``changed`` (the executor picks the variants that cover them)."""

    def begin_round(self, recursive: bool) -> None:
        """Called before each round's evaluations (``recursive``: a delta round of a stratum)."""

    def fact_count(self) -> int:
        """Facts held now (for the limits)."""


def run_fixpoint(
    executor: Executor, plan: ProgramPlan, limits: Limits | None = None, say: ProgressFn | None = None,
) -> int:
    """Materialize ``plan`` with ``executor``; the number of rounds (commits of derived facts)."""
    say = say or (lambda _: None)
    limits = limits or Limits(max_facts=None)
    rounds = 0

    def commit(stratum: int, round_no: int, started: float) -> Mapping[object, int]:
        nonlocal rounds
        deltas = executor.commit()
        rounds += 1
        new = sum(deltas.values())
        seconds = time.perf_counter() - started
        say(Progress("round", f"stratum {stratum}/{len(plan.strata)} round {round_no}: {new:,} new facts"
                     f"{_growing(deltas)} in {seconds:.1f}s",
                     rate=new / seconds if seconds else None, rate_unit="facts/s"))
        limits.check(facts=executor.fact_count(), rounds=rounds, growth={str(k): n for k, n in deltas.items()})
        return deltas

    executor.prepare(plan)
    executor.commit()
    executor.commit()  # input and facts become "old": every stratum starts from an empty delta
    for number, stratum in enumerate(plan.strata, 1):
        started = time.perf_counter()
        executor.begin_round(recursive=False)
        for rule in stratum.rules:
            executor.evaluate(rule, None)
        deltas = commit(number, 1, started)
        round_no = 1
        while stratum.recursive and any(deltas.get(k, 0) for k in executor.watched(stratum)):
            round_no += 1
            started = time.perf_counter()
            executor.begin_round(recursive=True)
            for rule in stratum.rules:
                changed = [k for k in rule.recursive_atoms if executor.has_delta(rule, k)]
                if changed:
                    executor.evaluate(rule, changed)
            deltas = commit(number, round_no, started)
        executor.commit()  # the stratum's last delta becomes old before the next stratum reads it
    return rounds


def _growing(deltas: Mapping[object, int]) -> str:
    new = {k: n for k, n in deltas.items() if n}
    if not new:
        return ""
    top = sorted(new.items(), key=lambda kv: -kv[1])[:4]
    detail = ", ".join(f"{_short(k)} {n:,}" for k, n in top)
    more = f", +{len(new) - len(top)} more" if len(new) > len(top) else ""
    return f" ({detail}{more})"


def _short(key: object) -> str:
    name = str(getattr(key, "name", key)).strip("<>")
    return name.rsplit("#", 1)[-1].rsplit("/", 1)[-1] or name


__all__ = ["Executor", "run_fixpoint"]
