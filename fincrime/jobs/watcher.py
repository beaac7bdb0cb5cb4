"""``fincrime watch``: start jobs as spec files appear, within workers, cores and memory.

Each loop: give back jobs whose worker died (they resume), send notifications still owed,
pick up specs that stopped changing, start queued jobs while capacity allows, reap workers and
stop those over their time limit. All state lives in the registry, so a restarted watcher
carries on where the last one stopped: specs already seen are not run again, queued jobs start,
interrupted ones resume.

A spec is read only once it is *complete*: unchanged (size and mtime) for ``settle`` seconds
and parseable JSON. A file that stays unparseable is rejected only after ``reject_after``
seconds without change, because a slow writer may pause mid-file. Names starting with ``.``
are ignored, so writers can also write ``.name.job.json`` and rename it.

No spec can stop the watcher: whatever goes wrong while one spec is read or checked becomes
that spec's rejection (``.errors.json`` and a registry entry) and the loop goes on.
Notifications are sent from a small thread pool, so a slow or hostile mail or webhook server
never holds up the loop. One watcher runs per ``FINCRIME_HOME`` (a lock file,
:class:`WatcherLock`): a second one refuses to start and names the first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fincrime.errors import FincrimeError
from fincrime.jobfolder import sha256_file
from fincrime.jobs import registry as R
from fincrime.jobs.memory import (
    estimate_need_mb,
    likely_out_of_memory,
    machine_mb,
    text_mb,
    tree_rss_mb,
)
from fincrime.jobs.problems import Problem
from fincrime.jobs.safejson import JsonLimitError, read_limited
from fincrime.jobs.service import notify_finished, reject, submit
from fincrime.jobs.spec import is_spec_file
from fincrime.security.config import load_config
from fincrime.workspace import Workspace

NOTIFY_THREADS = 2

SCAN_DEPTH = 2  # INPUT/<dataset>/<spec> (and INPUT/<spec> when INPUT is a dataset folder)


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


@dataclass
class _Worker:
    job_id: str
    process: subprocess.Popen[bytes]
    cores: int
    memory_mb: int
    started: float
    timeout: float | None
    log: IO[bytes]
    peak_mb: float = 0.0  # largest resident size of the worker's process tree seen
    available_mb: int = 0  # the machine's available memory at the last sample


@dataclass
class WatchOptions:
    workers: int = 2
    cores: int = field(default_factory=lambda: os.cpu_count() or 1)
    memory_mb: int = 0  # 0: no memory budget
    interval: float = 1.0
    settle: float = 1.0
    reject_after: float = 10.0
    lease_timeout: float = 30.0
    max_attempts: int = 3
    once: bool = False


def _memory_total_mb() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
    except (ValueError, OSError, AttributeError):
        return 0


# A worker may pass its declared memory by this factor before it is stopped (allocators round up).
MEMORY_GRACE = 1.1


class WatcherRunning(FincrimeError):
    """Another watcher already works on this FINCRIME_HOME."""


class WatcherLock:
    """An exclusive ``flock`` on ``FINCRIME_HOME/watch.lock``, held while a watcher runs.

    The kernel releases it when the process ends, however it ends, so a killed watcher never
    leaves a stale lock behind. The file names the holder, for the message of the next one.
    """

    def __init__(self, home: Path) -> None:
        self.path = home / "watch.lock"
        self._fd: int | None = None

    def acquire(self, what: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise WatcherRunning(f"another watcher already uses {self.path.parent}: {holder}",
                                 hint="stop it first, or give this one its own FINCRIME_HOME") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, {what}, since {R.now_iso()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Watcher:
    """Watches ``input_dir``; ``run()`` loops until stopped (or, with ``once``, until idle)."""

    def __init__(self, input_dir: Path, workspace: Workspace, options: WatchOptions,
                 say: Callable[[str], None] = print) -> None:
        self.input_dir = input_dir.resolve()
        self.workspace = workspace
        self.options = options
        self.say = say
        self.registry = R.Registry(workspace.registry_path)
        self.lease = R.Lease.mine()
        self.lock = WatcherLock(workspace.home)
        self.workers: dict[str, _Worker] = {}
        self._notifier: ThreadPoolExecutor | None = None
        self._notifying: set[str] = set()
        self._notify_guard = threading.Lock()
        self._seen: dict[Path, _Seen] = {}
        self._settled: dict[Path, tuple[int, int]] = {}
        self._stop = False
        if not options.memory_mb:
            options.memory_mb = _memory_total_mb()
        self.config = load_config(workspace.home)  # the operator's; a bad file stops us here, clearly

    # ---- scope -----------------------------------------------------------------------------
    def _ours(self, job: R.JobRecord) -> bool:
        return job.spec_path.startswith(str(self.input_dir) + os.sep)

    def _spec_files(self) -> list[Path]:
        found = []
        for depth in range(1, SCAN_DEPTH + 1):
            for path in self.input_dir.glob("/".join(["*"] * depth)):
                if is_spec_file(path) and not any(part.startswith(".") for part in path.relative_to(self.input_dir).parts):
                    found.append(path)
        return sorted(found)

    # ---- steps -----------------------------------------------------------------------------
    def recover(self) -> None:
        for job_id in self.registry.requeue_stale(timeout=self.options.lease_timeout, max_attempts=self.options.max_attempts):
            if job_id not in self.workers:
                self.say(f"{job_id}: {self.registry.get(job_id).status} (its worker was gone)")
        for job in self.registry.unnotified():
            if self._ours(job):
                self.notify(job.id)

    def notify(self, job_id: str) -> None:
        """Sends a finished job's notifications in the background (once; see ``notify_finished``)."""
        with self._notify_guard:
            if job_id in self._notifying:
                return
            self._notifying.add(job_id)
        if self._notifier is None:
            self._notifier = ThreadPoolExecutor(NOTIFY_THREADS, thread_name_prefix="fincrime-notify")
        self._notifier.submit(self._notify_now, job_id)

    def _notify_now(self, job_id: str) -> None:
        try:
            with R.Registry(self.workspace.registry_path) as registry:  # one connection per thread
                for report in notify_finished(registry, job_id):
                    self.say(f"{job_id}: {report['type']} {'sent' if report['ok'] else 'FAILED'}: {report.get('detail')}")
        except Exception as exc:  # pragma: no cover - notify_finished itself never raises
            self.say(f"{job_id}: notifying failed: {type(exc).__name__}: {exc}")
        finally:
            with self._notify_guard:
                self._notifying.discard(job_id)

    def _finish_notifications(self, wait: bool) -> None:
        if self._notifier is not None:
            self._notifier.shutdown(wait=wait, cancel_futures=not wait)
            self._notifier = None

    def scan(self) -> int:
        """Submits every spec that became complete; returns how many are still settling."""
        now = time.monotonic()
        pending = 0
        for path in self._spec_files():
            try:
                pending += self._scan_one(path, now)
            except Exception as exc:  # no spec may stop the watcher: it is that spec's rejection
                self._reject_broken(path, exc)
        return pending

    def _reject_broken(self, path: Path, exc: BaseException) -> None:
        try:
            st = path.stat()
            self._settled[path] = (st.st_size, st.st_mtime_ns)
        except OSError:
            self._settled.pop(path, None)
        problem = Problem(path.name, f"could not be read or checked: {type(exc).__name__}: {exc}")
        try:
            sub = reject(self.registry, path, [problem], config=self.config)
            self.say(f"{sub.job_id}: rejected {path.name}: {problem.message}")
        except Exception as again:  # the registry itself is in trouble: say so, keep going
            self.say(f"{path}: {problem.message}; could not record the rejection: {type(again).__name__}: {again}")

    def _scan_one(self, path: Path, now: float) -> int:
        """Looks at one spec file; returns 1 while it is still settling."""
        try:
            st = path.stat()
        except FileNotFoundError:
            return 0
        key = (st.st_size, st.st_mtime_ns)
        if self._settled.get(path) == key:
            return 0
        seen = self._seen.get(path)
        if seen is None or (seen.size, seen.mtime_ns) != key:
            self._seen[path] = _Seen(st.st_size, st.st_mtime_ns, now)
            return 1
        quiet = now - seen.since
        if quiet < self.options.settle:
            return 1
        try:
            sha = sha256_file(path)
        except OSError:
            return 0
        if self.registry.spec_seen(str(path.absolute()), sha):
            self._settled[path] = key
            return 0
        try:
            read_limited(path)
        except JsonLimitError:
            if quiet < self.options.reject_after:
                return 1  # maybe still being written by a slow writer
        except OSError:
            return 0
        self._settled[path] = key
        sub = submit(self.registry, path, self.workspace.output_root, config=self.config, once=True)
        if sub.status == R.REJECTED:
            self.say(f"{sub.job_id}: rejected {path.name}: {len(sub.problems)} problem(s), see {path.name}.errors.json")
        else:
            self.say(f"{sub.job_id}: queued ({path.relative_to(self.input_dir)})")
        return 0

    def _fits(self, job: R.JobRecord) -> bool:
        if len(self.workers) >= self.options.workers:
            return False
        if not self.workers:
            return True  # a job bigger than the whole budget still runs, alone
        cores = sum(w.cores for w in self.workers.values()) + job.cores
        memory = sum(w.memory_mb for w in self.workers.values()) + job.memory_mb
        return cores <= self.options.cores and (not self.options.memory_mb or memory <= self.options.memory_mb)

    def schedule(self) -> None:
        for job in self.registry.queued():
            if not self._ours(job) or job.id in self.workers:
                continue
            if not self._fits(job):
                if len(self.workers) >= self.options.workers:
                    return
                continue
            token = secrets.token_hex(16)
            if not self.registry.claim(job.id, R.Lease(token, self.lease.host, self.lease.pid)):
                continue
            self._spawn(job, token)

    def _spawn(self, job: R.JobRecord, token: str) -> None:
        job_dir = Path(job.output_dir or self.workspace.job_dir(job.dataset, job.id))
        job_dir.mkdir(parents=True, exist_ok=True)
        log = open(job_dir / "worker.log", "ab")  # noqa: SIM115 - closed when the worker is reaped
        cmd = [sys.executable, "-m", "fincrime.jobs.worker", job.id, "--claim", token,
               "--home", str(self.workspace.home), "--output", str(self.workspace.output_root)]
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        self._warn_memory(job, token)
        timeout = (job.resolved or {}).get("spec", {}).get("timeout_minutes")
        self.workers[job.id] = _Worker(job.id, process, job.cores, job.memory_mb, time.monotonic(),
                                       float(timeout) * 60 if timeout else None, log)
        self.say(f"{job.id}: started (pid {process.pid}, attempt {job.attempts + 1})")

    def _warn_memory(self, job: R.JobRecord, token: str) -> None:
        """Say so, in the log and the job's history, when its input likely needs more memory
        than the machine has (the job still runs: the estimate is a fit, not a promise)."""
        resolved = job.resolved or {}
        root = Path(resolved.get("dataset_dir") or ".")
        data = [root / rel for rel in (resolved.get("spec") or {}).get("data", [])]
        need = estimate_need_mb(text_mb(data))
        total, _ = machine_mb()
        if total and need > total:
            message = (f"warning: its input ({text_mb(data):,.0f} MB of N-Triples) likely needs about {need:,} MiB, "
                       f"more than this machine's {total:,} MiB")
            self.say(f"{job.id}: {message}")
            with contextlib.suppress(R.LeaseLost):
                self.registry.note(job.id, token, message)

    def reap(self) -> None:
        total_mb, available_mb = machine_mb()
        for job_id, worker in list(self.workers.items()):
            if worker.process.poll() is None:
                rss = tree_rss_mb(worker.process.pid)
                worker.peak_mb, worker.available_mb = max(worker.peak_mb, rss), available_mb
                if worker.memory_mb and rss > worker.memory_mb * MEMORY_GRACE:
                    self._stop_worker(worker)
                    if self.registry.abort(job_id, R.FAILED, (
                            f"stopped: used {rss:,.0f} MiB, more than the {worker.memory_mb:,} MiB its spec declares "
                            "(engine.memory); give it more, or keep less (keep.intermediate, keep.inputs)")):
                        self.say(f"{job_id}: failed (memory limit)")
            if worker.timeout and time.monotonic() - worker.started > worker.timeout and worker.process.poll() is None:
                self._stop_worker(worker)
                if self.registry.abort(job_id, R.FAILED, f"stopped: ran longer than its {worker.timeout / 60:g} minute limit"):
                    self.say(f"{job_id}: failed (time limit)")
            code = worker.process.poll()
            if code is None:
                continue
            worker.log.close()
            del self.workers[job_id]
            job = self.registry.get(job_id)
            if code == -signal.SIGKILL and job.status not in R.FINAL and likely_out_of_memory(
                    peak_mb=worker.peak_mb, total_mb=total_mb, available_mb=worker.available_mb):
                # running it again would meet the same end: fail it with the likely cause
                message = (f"the worker was killed by the kernel while {job.status}, most likely out of memory "
                           f"(it held {worker.peak_mb:,.0f} of {total_mb:,} MiB); the outputs of its finished phases "
                           f"are kept in {job.output_dir}")
                if self.registry.abort(job_id, R.FAILED, message):
                    job = self.registry.get(job_id)
            if job.status in R.FINAL:
                self.say(f"{job_id}: {job.status}" + (f" — {job.error}" if job.error else f" ({job.output_dir})"))
                self.notify(job_id)
            elif job.status != R.QUEUED:
                self.say(f"{job_id}: worker exited with code {code} while {job.status}; it will resume")

    @staticmethod
    def _stop_worker(worker: _Worker) -> None:
        try:
            os.killpg(worker.process.pid, signal.SIGKILL)  # the worker and anything it started
        except OSError:
            worker.process.kill()
        worker.process.wait()

    # ---- loop ------------------------------------------------------------------------------
    def stop(self, *_: Any) -> None:
        self._stop = True

    def idle(self, pending: int) -> bool:
        return not pending and not self.workers and not any(self._ours(j) for j in self.registry.queued())

    def run(self) -> None:
        """Loops until stopped; raises :class:`WatcherRunning` when another watcher has this home."""
        self.lock.acquire(f"watching {self.input_dir}")
        try:
            self._loop()
        finally:
            self.lock.release()

    def _loop(self) -> None:
        in_main = threading.current_thread() is threading.main_thread()
        handlers = {s: signal.signal(s, self.stop) for s in (signal.SIGINT, signal.SIGTERM)} if in_main else {}
        self.say(f"watching {self.input_dir} -> {self.workspace.output_root} "
                 f"(workers {self.options.workers}, cores {self.options.cores}, memory {self.options.memory_mb} MiB)")
        try:
            while not self._stop:
                self.recover()
                pending = self.scan()
                self.reap()
                self.schedule()
                if self.options.once and self.idle(pending):
                    self.recover()  # last notifications
                    self._finish_notifications(wait=True)
                    break
                time.sleep(self.options.interval)
        finally:
            self._finish_notifications(wait=False)
            self.shutdown()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)

    def shutdown(self, grace: float = 15.0) -> None:
        """Stops workers: their jobs go back to the queue and resume at the next start."""
        if not self.workers:
            self.registry.close()
            return
        self.say(f"stopping {len(self.workers)} running job(s); they resume at the next start")
        for worker in self.workers.values():
            if worker.process.poll() is None:
                worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for worker in self.workers.values():
            try:
                worker.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.log.close()
        self.workers.clear()
        self.registry.requeue_stale(timeout=self.options.lease_timeout, max_attempts=self.options.max_attempts + 1)
        self.registry.close()
