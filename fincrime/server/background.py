"""What runs beside the web server: the folder watcher and the alert ingester.

The watcher is ``fincrime watch`` itself, in a child process on the same input folder,
output root and ``FINCRIME_HOME``: uploads are picked up by exactly the code that picks up
dropped files, and a spec that crashed a parser could only take that child down. The
supervisor restarts it (with growing pauses) and stops it cleanly at shutdown, when its running
jobs go back to the queue and resume at the next start.

The ingester turns every job that finished ``done`` into alerts, once; a job it cannot read is
recorded with the reason and not retried until the server restarts.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from fincrime.cases.db import Casework
from fincrime.cases.ingest import ingest_job, ingested, record_failure
from fincrime.jobs import registry as R
from fincrime.server.config import ServerConfig

log = logging.getLogger("fincrime.server")


class WatcherSupervisor:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.started_at: float | None = None
        self.last_exit: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fincrime-watcher-supervisor", daemon=True)
        self._log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.config.workspace.home / "logs" / "watcher.log"

    def command(self) -> list[str]:
        ws = self.config.workspace
        return [sys.executable, "-m", "fincrime", "watch", str(self.config.input_dir), "--output", str(ws.output_root),
                "--workers", str(self.config.workers), *self.config.watcher_args]

    def start(self) -> None:
        self.config.input_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def _spawn(self) -> None:
        env = {**os.environ, "FINCRIME_HOME": str(self.config.workspace.home)}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed when the child is replaced or stopped
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                        env=env, start_new_session=True)
        self.started_at = time.monotonic()
        log.info("watcher started (pid %s) on %s", self.process.pid, self.config.input_dir)

    def _run(self) -> None:
        pause = 1.0
        while not self._stop.is_set():
            self._spawn()
            assert self.process is not None
            while self.process.poll() is None and not self._stop.wait(0.5):
                pass
            if self._stop.is_set():
                return
            self.last_exit = self.process.returncode
            if self._log:
                self._log.close()
            ran = time.monotonic() - (self.started_at or 0)
            pause = 1.0 if ran > 60 else min(pause * 2, 30.0)
            self.restarts += 1
            log.warning("watcher exited with code %s; restarting in %.0f s (see %s)", self.last_exit, pause, self.log_path)
            self._stop.wait(pause)

    def stop(self, grace: float = 30.0) -> None:
        self._stop.set()
        proc = self.process
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the watcher requeues its running jobs
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._thread.is_alive():
            self._thread.join(5)
        if self._log and not self._log.closed:
            self._log.close()

    def status(self) -> dict[str, Any]:
        running = bool(self.process and self.process.poll() is None)
        return {"running": running, "pid": self.process.pid if running and self.process else None,
                "restarts": self.restarts, "last_exit": self.last_exit}


class AlertIngester:
    """Polls the registry for finished jobs and makes their alerts."""

    def __init__(self, config: ServerConfig, interval: float = 2.0) -> None:
        self.config = config
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fincrime-alert-ingester", daemon=True)
        self._failed: set[str] = set()
        self.wakeup = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wakeup.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def run_once(self, registry: R.Registry, cw: Any) -> int:
        done = ingested(cw)
        made = 0
        for job in registry.list(status=R.DONE, limit=500):
            if job.id in done or job.id in self._failed or not job.output_dir:
                continue
            try:
                made += ingest_job(cw, Path(job.output_dir), store_dir=self.config.workspace.store_dir)
            except Exception as exc:
                self._failed.add(job.id)
                record_failure(cw, job.id, f"{type(exc).__name__}: {exc}")
                log.warning("alerts of %s: %s", job.id, exc)
        return made

    def _run(self) -> None:
        registry = R.Registry(self.config.workspace.registry_path)
        cw = Casework.open(self.config.workspace)
        try:
            while not self._stop.is_set():
                try:
                    self.run_once(registry, cw)
                except Exception as exc:  # a busy database this round is retried next round
                    log.warning("alert ingester: %s", exc)
                self.wakeup.wait(self.interval)
                self.wakeup.clear()
        finally:
            registry.close()
            cw.close()
