"""State and helpers shared by the CLI command modules."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

console = Console()
console_err = Console(stderr=True)


@dataclass
class _State:
    debug: bool = False


state = _State()
