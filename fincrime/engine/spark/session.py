"""The Spark session of a reasoning run: one per process, quiet, bound to loopback locally.

Sessions are expensive (~20 s to start), so a session that is already active in the process is
reused whenever the requested master matches it (tests and long-lived services share one).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fincrime.engine.spark.resources import Machine, Resources, parse_memory, plan_resources
from fincrime.errors import FincrimeError, InputError

DEFAULT_MASTER = "local[*]"

_LOG4J = """\
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{HH:mm:ss}} %p %c{{1}}: %m%n
"""


@dataclass(frozen=True)
class SparkOptions:
    """Engine settings of a Spark run (from the job spec's ``engine`` or the CLI)."""

    master: str = DEFAULT_MASTER
    partitions: int | None = None  # shuffle partitions; default: 2 per core
    cores: int | None = None  # executor cores (cluster) / threads (local[*])
    memory: str | None = None  # executor memory, driver memory in local mode
    checkpoint_dir: str | None = None  # reliable checkpoints (cluster); default: local checkpoints
    debug: bool = False
    max_facts: int | None = None  # the engine limits (fincrime.engine.limits)
    timeout: float | None = None

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> SparkOptions:
        known = {"master", "partitions", "cores", "memory", "checkpoint_dir", "debug", "max_facts", "timeout"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"unknown Spark engine option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        master = str(options.get("master") or DEFAULT_MASTER)
        for name in ("partitions", "cores"):
            value = options.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise InputError(f"engine option {name} must be a positive integer (got {value!r})")
        memory = options.get("memory")
        if memory is not None:
            parse_memory(str(memory))  # a clear error now, not a JVM that does not start
        return cls(
            master=master, partitions=options.get("partitions"), cores=options.get("cores"),
            memory=str(memory) if memory is not None else None, checkpoint_dir=options.get("checkpoint_dir"),
            debug=bool(options.get("debug", False)), max_facts=options.get("max_facts"), timeout=options.get("timeout"),
        )

    @property
    def is_local(self) -> bool:
        return self.master.startswith("local")

    def local_threads(self) -> int:
        if self.master in ("local", "local[1]"):
            return 1
        inside = self.master[6:-1] if self.master.startswith("local[") else "*"
        if inside.isdigit():
            return int(inside)
        return self.cores or os.cpu_count() or 1

    def resources(self, input_bytes: int, machine: Machine | None = None) -> Resources:
        """Memory and partitions for an input of ``input_bytes`` on this machine (see
        :mod:`.resources`); raises before any JVM starts when the job cannot fit."""
        return plan_resources(machine or Machine.detect(), input_bytes, self.is_local, memory=self.memory,
                              partitions=self.partitions, cores=self.cores,
                              threads=self.local_threads() if self.is_local else None)


def options_from_cli(
    master: str | None = None, partitions: int | None = None, cores: int | None = None,
    memory: str | None = None,
) -> dict[str, Any]:
    """Engine options from ``fincrime reason --spark-master URL --partitions N`` (and resources).

    >>> options_from_cli("spark://127.0.0.1:7077", 8)
    {'master': 'spark://127.0.0.1:7077', 'partitions': 8}
    """
    out: dict[str, Any] = {}
    if master:
        out["master"] = master
    if partitions is not None:
        out["partitions"] = partitions
    if cores is not None:
        out["cores"] = cores
    if memory:
        out["memory"] = memory
    SparkOptions.parse(out)
    return out


def _log_config(debug: bool) -> Path:
    folder = Path(tempfile.gettempdir()) / f"fincrime-spark-{os.getuid()}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ("log4j2-debug.properties" if debug else "log4j2-quiet.properties")
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(_LOG4J.format(level="warn" if debug else "off"))
        os.replace(tmp, path)
    return path


@contextmanager
def _quiet_stderr(quiet: bool) -> Iterator[None]:
    """Start the JVM with stderr on /dev/null: its launcher prints banners that no log setting
    reaches. Our own stderr is restored at once; Spark's failures still come back as exceptions."""
    if not quiet:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _check_java() -> None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return
    if shutil.which("java") is None:
        raise FincrimeError(
            "the Spark engine needs Java (17 or later), and no java was found",
            hint="install a JRE (e.g. apt-get install openjdk-17-jre-headless) or set JAVA_HOME",
        )


def get_session(options: SparkOptions, resources: Resources | None = None):  # type: ignore[no-untyped-def]
    """The process's Spark session for these options, started if needed (quietly), with the
    memory and partitions of ``resources`` (default: planned for a small input)."""
    import warnings

    from pyspark.sql import SparkSession

    # pyspark warns about the pandas version on every Arrow use; the functions used here work
    warnings.filterwarnings("ignore", message=".*does not yet fully support pandas.*", category=FutureWarning)

    active = SparkSession.getActiveSession()
    if active is not None:
        current = active.sparkContext.master
        if options.master in (current, DEFAULT_MASTER) or (options.is_local and current.startswith("local")):
            _runtime_conf(active, options, resources or options.resources(0))
            return active
        active.stop()
    resources = resources or options.resources(0)
    _check_java()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers run this interpreter (the UDF that spells numbers imports fincrime)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    debug = options.debug
    java_opts = f"-Dlog4j2.configurationFile=file:{_log_config(debug)}"
    builder = (
        SparkSession.builder.master(options.master)
        .appName("fincrime-reason")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.executor.extraJavaOptions", java_opts)
        .config("spark.pyspark.python", sys.executable)
        .config("spark.pyspark.driver.python", sys.executable)
        .config("spark.sql.shuffle.partitions", str(resources.partitions))
        # pyspark 4 records the Python call site of every DataFrame/Column call for error
        # messages: five JVM round trips per call, most of the time spent building a rule's plan
        .config("spark.python.sql.dataFrameDebugging.enabled", "false")
    )
    if options.is_local or os.environ.get("SPARK_LOCAL_IP") == "127.0.0.1":
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if resources.executor_memory:
        builder = builder.config("spark.executor.memory", resources.executor_memory)
    if resources.driver_memory:  # locally the executors live inside the driver's JVM
        builder = builder.config("spark.driver.memory", resources.driver_memory)
    if options.cores and not options.is_local:
        builder = builder.config("spark.executor.cores", str(options.cores))
    with spark_errors("starting Spark"), _quiet_stderr(not debug):
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN" if debug else "OFF")
    # pyspark logs every failed query as a JSON record on stderr; ours is the one-line error
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = not debug
    _runtime_conf(session, options, resources)
    return session


def _runtime_conf(session, options: SparkOptions, resources: Resources) -> None:  # type: ignore[no-untyped-def]
    conf = session.conf
    # SPARQL semantics: errors are values (nulls), not exceptions; times are UTC; ?x and ?X differ
    conf.set("spark.sql.ansi.enabled", "false")
    conf.set("spark.sql.session.timeZone", "UTC")
    conf.set("spark.sql.caseSensitive", "true")
    conf.set("spark.sql.shuffle.partitions", str(resources.partitions))
    conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    # A BIND's value is spelled as columns level by level, and later levels read earlier ones
    # several times. Pushing a filter down through those projections, or collapsing them,
    # substitutes each alias by its expression at every reference: the tree grows exponentially
    # with the levels (one day-number BIND of the typology rules ran out of a 6 GiB heap in the
    # optimizer). The executor already places every FILTER right after the join that binds it.
    conf.set("spark.sql.optimizer.excludedRules", ",".join(
        f"org.apache.spark.sql.catalyst.optimizer.{rule}" for rule in ("PushDownPredicates", "CollapseProject")))
    if options.checkpoint_dir:
        session.sparkContext.setCheckpointDir(options.checkpoint_dir)


_CAUSES = (
    (("OutOfMemoryError", "Java heap space", "GC overhead limit", "exit code 137", "exitCode=137",
      "Container killed", "Killed by external signal"), "Spark ran out of memory",
     "give the engine more memory (engine.memory / --memory) or more partitions (engine.partitions / --partitions)"),
    (("ExecutorLostFailure", "lost executor", "Executor heartbeat timed out", "SparkContext was shut down",
      "Remote RPC client disassociated"),
     "a Spark executor was lost",
     "check the worker logs: executors die when they run out of memory (engine.memory / --memory) or the host fails"),
    (("Cannot call methods on a stopped SparkContext",), "Spark stopped in the middle of the run",
     "most often its driver ran out of memory: give the engine more (engine.memory / --memory); "
     "--debug shows Spark's log"),
    (("Checkpoint block", "checkpointed RDD"), "a stored round of facts was lost with its executor",
     "set engine.checkpoint_dir to shared storage (hdfs://, s3a://) so rounds survive a lost executor"),
    (("All masters are unresponsive", "Could not connect to master", "Failed to connect to master"),
     "the Spark master cannot be reached", "check --spark-master (spark://HOST:PORT) and that the master is running"),
    (("JAVA_GATEWAY_EXITED", "Java gateway process exited"), "Spark's Java process did not start",
     "check that Java 17+ is installed (JAVA_HOME) and run with --debug to see Spark's own output"),
)


def describe_spark_error(exc: BaseException, doing: str) -> FincrimeError:
    """One clear line for a failure raised by Spark, with its cause and a hint."""
    text = f"{type(exc).__name__}: {exc}"
    for needles, cause, hint in _CAUSES:
        if any(n.lower() in text.lower() for n in needles):
            return FincrimeError(f"{doing} failed: {cause}", hint=hint)
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return FincrimeError(f"{doing} failed: Spark error: {first[:300]}", hint="run with --debug for Spark's log and the full trace")


@contextmanager
def spark_errors(doing: str) -> Iterator[None]:
    """Turn Spark's and Py4J's exceptions into :class:`FincrimeError` (ours pass through)."""
    try:
        yield
    except FincrimeError:
        raise
    except (ConnectionError, EOFError) as exc:  # the JVM's end of the Py4J socket is gone
        raise FincrimeError(
            f"{doing} failed: Spark's Java process went away ({type(exc).__name__})",
            hint="it was most likely killed for memory (see `dmesg`): free memory on this machine, "
                 "give the engine less (--memory) or run on a cluster (--spark-master)") from exc
    except Exception as exc:
        module = type(exc).__module__ or ""
        if module.startswith(("pyspark", "py4j")) or "Java" in type(exc).__name__:
            raise describe_spark_error(exc, doing) from exc
        raise
