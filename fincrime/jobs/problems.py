"""Problems found in a job spec, and the one error that carries all of them at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fincrime.errors import InputError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where (file, optionally ``:line:col`` or a JSON path) and what.

    >>> Problem("demo.job.json: data[0]", "matches no file").render()
    'demo.job.json: data[0]: matches no file'
    """

    where: str
    message: str

    def render(self) -> str:
        return f"{self.where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "message": self.message}


class SpecRejected(InputError):
    """A spec that cannot run; ``problems`` lists every reason found, not only the first."""

    def __init__(self, spec: str, problems: list[Problem]) -> None:
        self.spec = spec
        self.problems = list(problems)
        first = self.problems[0].render() if self.problems else "rejected"
        more = len(self.problems) - 1
        tail = f" (and {more} more problem{'s' * (more > 1)}; see {spec}.errors.json)" if more else ""
        super().__init__(f"{spec}: spec rejected: {first}{tail}")

    def render(self) -> str:
        lines = [f"{self.spec}: spec rejected with {len(self.problems)} problem(s):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)
