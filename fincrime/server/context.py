"""What every request handler reaches: the settings and per-thread database handles.

SQLite connections are not shared between threads: each thread of the server's pool opens its
own handle on the registry and the casework database once and keeps it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

from fincrime.cases.alerts import Alerts
from fincrime.cases.casefile import Cases
from fincrime.cases.db import Casework
from fincrime.cases.users import Users
from fincrime.jobs.registry import Registry
from fincrime.server.config import ServerConfig


@dataclass
class Context:
    config: ServerConfig
    _local: threading.local = field(default_factory=threading.local)
    _handles: list[object] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keep(self, handle: object) -> None:
        with self._lock:
            self._handles.append(handle)

    @property
    def registry(self) -> Registry:
        reg = getattr(self._local, "registry", None)
        if reg is None:
            reg = self._local.registry = Registry(self.config.workspace.registry_path)
            self._keep(reg)
        return reg

    @property
    def casework(self) -> Casework:
        cw = getattr(self._local, "casework", None)
        if cw is None:
            cw = self._local.casework = Casework.open(self.config.workspace)
            self._keep(cw)
        return cw

    @property
    def users(self) -> Users:
        return Users(self.casework)

    @property
    def alerts(self) -> Alerts:
        return Alerts(self.casework)

    @property
    def cases(self) -> Cases:
        return Cases(self.casework)

    def close(self) -> None:
        with self._lock:
            for handle in self._handles:
                with contextlib.suppress(Exception):
                    handle.close()  # type: ignore[attr-defined]
            self._handles.clear()
