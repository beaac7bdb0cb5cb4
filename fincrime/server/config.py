"""Settings of ``fincrime serve``: where it reads and writes, its limits, who it reports as."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from fincrime.cases.export import ReportingEntity
from fincrime.workspace import Workspace

GIB = 1 << 30
MIB = 1 << 20


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1).

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    workspace: Workspace
    input_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    run_watcher: bool = True
    run_ingester: bool = True
    max_file_bytes: int = 2 * GIB
    max_request_bytes: int = 8 * GIB
    max_files: int = 1000
    max_json_bytes: int = MIB
    spec_wait_seconds: float = 15.0
    query_timeout: float = 30.0
    query_rows: int = 1000
    entity: ReportingEntity = field(default_factory=ReportingEntity)
    allowed_hosts: tuple[str, ...] = ()
    secure_cookies: bool = False
    watcher_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.input_dir = Path(self.input_dir).resolve()

    @property
    def hosts(self) -> set[str]:
        """Host header names accepted (defends a loopback server against DNS rebinding)."""
        names = {"127.0.0.1", "localhost", "[::1]", self.host, *self.allowed_hosts}
        return names | {f"{n}:{self.port}" for n in names}
