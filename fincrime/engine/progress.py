"""Progress of a materialization, as events that read as one line and carry their numbers.

An engine hands its progress callback :class:`Progress` events. ``str(event)`` is the line a
terminal or a log shows (so a callback that only prints keeps working); :meth:`Progress.fields`
are the numbers a progress bar needs: what is done out of what total, and the rate.

>>> e = Progress("read", "read 1,000 triples", done=2.0, total=8.0, unit="MB", rate=500.0, rate_unit="triples/s")
>>> str(e), e.eta_seconds()
('read 1,000 triples (500 triples/s, 25% of 8 MB)', None)
>>> Progress("read", "x", done=2, total=8, elapsed=1.0).eta_seconds()
3.0
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ProgressFn = Callable[[Any], None]  # called with Progress events (str() of one is its line)


@dataclass(frozen=True)
class Progress:
    kind: str  # "read" (input), "round" (a semi-naive round), "note"
    text: str
    done: float | None = None
    total: float | None = None
    unit: str = ""
    rate: float | None = None
    rate_unit: str = ""
    elapsed: float | None = None  # seconds since this kind of work began

    def eta_seconds(self) -> float | None:
        """Seconds left at the pace so far (None when the total or the pace is unknown)."""
        if not self.total or not self.done or not self.elapsed:
            return None
        return max(self.elapsed * (self.total - self.done) / self.done, 0.0)

    def __str__(self) -> str:
        extra = []
        if self.rate is not None:
            extra.append(f"{self.rate:,.0f} {self.rate_unit}")
        if self.done is not None and self.total:
            extra.append(f"{100 * self.done / self.total:.0f}% of {self.total:,.0f} {self.unit}".rstrip())
        eta = self.eta_seconds()
        if eta is not None:
            extra.append(f"about {eta:,.0f} s left")
        return self.text + (f" ({', '.join(extra)})" if extra else "")

    def fields(self) -> dict[str, Any]:
        """The numbers, for a log line or a progress bar."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("done", "total", "unit", "rate", "rate_unit"):
            value = getattr(self, name)
            if value not in (None, ""):
                out[name] = value
        eta = self.eta_seconds()
        if eta is not None:
            out["eta_seconds"] = round(eta, 1)
        return out


def progress_reporter(progress: bool | ProgressFn) -> ProgressFn:
    """A progress callback from ``progress``: a function as is, True prints, False is silent."""
    if callable(progress):
        return progress
    if progress:
        return lambda event: print(event, flush=True)
    return lambda _: None


def report_skipped(skipped: Mapping[tuple[str, str], int], say: ProgressFn) -> None:
    """One warning line per rule whose derived rows were not written as invalid N-Triples."""
    for (rule, reason), rows in sorted(skipped.items()):
        say(Progress("note", f"warning: {rows:,} derived row(s) of rule {rule} skipped: {reason} is not valid N-Triples"))


__all__ = ["Progress", "ProgressFn", "progress_reporter", "report_skipped"]
