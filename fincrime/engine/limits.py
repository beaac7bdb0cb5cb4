"""Limits on a materialization: how many facts and how much time, checked every round.

A rule can derive without end (``[?n, :next, ?m] :- [?x, :next, ?n], BIND(?n + 1 AS ?m)``). The
fixpoint then never comes; these limits stop it with a message that names what grows.

>>> limits = Limits(max_facts=10)
>>> limits.check(facts=5, growth={"[?, <http://e/next>, ?]": 3}, rounds=2)
>>> try:
...     limits.check(facts=12, growth={"[?, <http://e/next>, ?]": 6}, rounds=3)
... except EngineLimit as exc:
...     print(exc.one_line()[:73])
stopped after 3 rounds: 12 facts, more than the limit of 10 (--max-facts)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from fincrime.errors import FincrimeError

#: Default limit on facts: far beyond what fits in memory, so only a runaway program meets it.
DEFAULT_MAX_FACTS = 2_000_000_000


class EngineLimit(FincrimeError):
    """A materialization passed ``max_facts`` or ``timeout``."""


@dataclass
class Limits:
    max_facts: int | None = DEFAULT_MAX_FACTS
    timeout: float | None = None  # seconds
    started: float = field(default_factory=time.monotonic)

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> Limits:
        max_facts = options.get("max_facts", DEFAULT_MAX_FACTS)
        timeout = options.get("timeout")
        return cls(int(max_facts) if max_facts else None, float(timeout) if timeout else None)  # type: ignore[arg-type]

    def check(self, *, facts: int, growth: Mapping[str, int], rounds: int) -> None:
        """Raise :class:`EngineLimit` when a limit is passed; ``growth``: new facts per relation
        in the last round (named by the relation), for the message."""
        over = None
        if self.max_facts is not None and facts > self.max_facts:
            over = f"{facts:,} facts, more than the limit of {self.max_facts:,} (--max-facts)"
        elapsed = time.monotonic() - self.started
        if self.timeout is not None and elapsed > self.timeout:
            over = f"{elapsed:,.0f} s, more than the limit of {self.timeout:,.0f} s (--timeout)"
        if over is None:
            return
        growing = sorted(((n, name) for name, n in growth.items() if n), reverse=True)[:3]
        named = ", ".join(f"{name} (+{n:,} in the last round)" for n, name in growing) or "nothing in the last round"
        raise EngineLimit(
            f"stopped after {rounds} rounds: {over}; growing fastest: {named}",
            hint="a rule may derive without end (a BIND minting new values over its own head); "
            "raise the limit if the program is meant to derive this much",
        )


__all__ = ["DEFAULT_MAX_FACTS", "EngineLimit", "Limits"]
