"""Validating a job spec: every problem at once, before anything runs.

``validate_spec(path)`` reads the spec under size and depth limits, maps a reference
``*.rdfoxjob.json`` onto the native form, checks the schema, resolves every path inside the
dataset folder, checks that credentials named by notify targets exist in the environment, and
parses every rule file and query. It returns a :class:`ValidSpec` or raises
:class:`~fincrime.jobs.problems.SpecRejected` listing all problems found.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from fincrime.errors import SourceError
from fincrime.jobfolder import sha256_file
from fincrime.jobs.paths import resolve_patterns
from fincrime.jobs.problems import Problem, SpecRejected
from fincrime.jobs.reference import REFERENCE_SUFFIX, map_reference
from fincrime.jobs.safejson import JsonLimitError, read_limited
from fincrime.jobs.schema import reference_schema, spec_schema
from fincrime.rules import load_program
from fincrime.security.config import SecurityConfig, load_config
from fincrime.security.egress import EgressPolicy, EgressRefused
from fincrime.security.sparql import QueryLimits
from fincrime.stores.query import check_queries

SPEC_SUFFIXES = (".job.json", REFERENCE_SUFFIX)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

DEFAULTS: dict[str, Any] = {
    "rules": [],
    "queries": [],
    "ground_truth": [],
    "prefixes": {},
    "params": {},
    "engine": {"type": "memory"},
    "outputs": {"formats": ["csv", "json"], "visualizations": [], "report": False},
    "keep": {"intermediate": ["type:PartialChain", "type:FlowPath"], "derived": "parquet", "load": "results",
             "inputs": "all"},
    "targets": [{"type": "oxigraph"}],  # the README's promise: results are queryable by default
    "notify": [],
    "retry": {"attempts": 3, "backoff_seconds": 2.0},
}
KINDS = ("data", "rules", "queries", "ground_truth")


def is_spec_file(path: Path) -> bool:
    """True for ``*.job.json`` and ``*.rdfoxjob.json`` files (not hidden, not error reports)."""
    return path.name.endswith(SPEC_SUFFIXES) and not path.name.startswith(".")


def spec_stem(path: Path) -> str:
    """``demo.job.json`` -> ``demo``."""
    for suffix in SPEC_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def memory_mb(text: str | None) -> int:
    """A memory size (``2g``, ``512Mi``, ``1.5GB``; a bare number is MiB, as in Spark) in MiB.

    >>> memory_mb("2g"), memory_mb("512Mi"), memory_mb(None)
    (2048, 512, 0)
    """
    if not text:
        return 0
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)i?[bB]?\s*", text)
    if not m:
        return 0
    scale = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1 << 20}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def dataset_id(name: str) -> str:
    """A folder name made safe for job ids (``my data`` -> ``my_data``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip("._-")[:64] or "dataset"


@dataclass
class ValidSpec:
    """A spec that passed every check, with defaults applied and paths expanded."""

    path: Path
    dataset_dir: Path
    dataset: str
    sha256: str
    spec: dict[str, Any]
    files: dict[str, list[Path]]
    notes: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> dict[str, Any]:
        """The spec as it will run: defaults filled, globs expanded to relative file lists."""
        out = copy.deepcopy(self.spec)
        for kind in KINDS:
            out[kind] = [p.relative_to(self.dataset_dir).as_posix() for p in self.files[kind]]
        return out


def with_defaults(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with every optional field filled (nested objects merged one level deep).

    >>> with_defaults({"name": "x", "data": "*.nt"})["retry"]
    {'attempts': 3, 'backoff_seconds': 2.0}
    """
    out = copy.deepcopy(dict(spec))
    for key, default in DEFAULTS.items():
        if key not in out:
            out[key] = copy.deepcopy(default)
        elif isinstance(default, dict) and isinstance(out[key], dict) and key not in ("prefixes", "params"):
            out[key] = {**copy.deepcopy(default), **out[key]}
    for kind in KINDS:
        if isinstance(out.get(kind), str):
            out[kind] = [out[kind]]
    return out


def _json_path(parts: Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _schema_problems(doc: Any, schema: dict[str, Any], where: str) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: (list(map(str, e.absolute_path)), e.message)):
        # oneOf/if-then failures carry their precise causes as sub-errors; report those.
        leaves = [error]
        if error.context:
            best = jsonschema.exceptions.best_match(error.context)
            leaves = [best] if best is not None else leaves
        for leaf in leaves:
            at = _json_path(leaf.absolute_path)
            problems.append(Problem(f"{where}: {at}" if at else where, leaf.message))
    unique = list(dict.fromkeys(problems))
    return unique


def _rule_problems(files: list[Path], spec: dict[str, Any], where: str) -> list[Problem]:
    if not files:
        return []
    prefixes = spec.get("prefixes") or None
    params = spec.get("params") or None
    problems = []
    for path in files:
        try:
            load_program([path], prefixes=prefixes, params=params)
        except SourceError as exc:
            problems.append(Problem(f"{exc.source}:{exc.line}" + (f":{exc.column}" if exc.column else ""), exc.reason))
        except Exception as exc:  # the engine's own failure is still a reason not to run
            problems.append(Problem(str(path), f"{type(exc).__name__}: {exc}"))
    if not problems and len(files) > 1:
        try:
            load_program(list(files), prefixes=prefixes, params=params)
        except SourceError as exc:
            problems.append(Problem(f"{exc.source}:{exc.line}", exc.reason))
        except Exception as exc:
            problems.append(Problem(f"{where}: rules", f"{type(exc).__name__}: {exc}"))
    return problems


def query_problems(paths: list[Path], config: SecurityConfig | None = None) -> list[Problem]:
    """Every problem with untrusted query files, found without running them or calling anyone.

    Each file is read as UTF-8 (its size checked before it is decoded), then checked by
    :func:`fincrime.stores.query.check_queries`: screened (size, nesting, ``SERVICE`` against
    the operator's allow-list and the egress policy) before any parser sees it, and parsed in a
    sandboxed child process, so a parser crash or a hang is that query's rejection.
    """
    config = config or load_config()
    limits = QueryLimits.from_config(config)
    problems: list[Problem] = []
    readable: list[tuple[str, str]] = []
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot read: {exc.strerror or exc}"))
            continue
        if len(raw) > limits.max_bytes:
            problems.append(Problem(str(path), f"query is {len(raw):,} bytes, more than the limit of {limits.max_bytes:,}"))
            continue
        try:
            readable.append((str(path), raw.decode("utf-8").removeprefix("\ufeff")))
        except UnicodeDecodeError as exc:
            problems.append(Problem(str(path), f"not UTF-8 text (byte {exc.start})"))
    for check in check_queries(readable, config=config) if readable else []:
        if check.problem is not None:
            problems.append(_source_problem(check.problem))
    return problems


def _source_problem(exc: SourceError) -> Problem:
    where = f"{exc.source}:{exc.line}" + (f":{exc.column}" if exc.column else "")
    return Problem(where, exc.reason + (f" (hint: {exc.hint})" if exc.hint else ""))


_HEADER_FIELDS = ("host", "from", "subject")


def _email_header_problems(target: dict[str, Any], at: str) -> list[Problem]:
    """Control characters in fields that become e-mail headers (a CR/LF would add a header)."""
    problems = []
    values = [(key, target.get(key)) for key in _HEADER_FIELDS]
    values += [(f"to[{j}]", v) for j, v in enumerate(target.get("to") or [])]
    for key, value in values:
        if isinstance(value, str) and CONTROL.search(value):
            problems.append(Problem(f"{at}.{key}", "control characters (CR, LF, ...) are not allowed in an e-mail header"))
    return problems


def _destination_problems(checks: list[tuple[str, str, tuple[str, ...] | None]], policy: EgressPolicy) -> list[Problem]:
    problems = []
    for at, value, schemes in checks:
        try:
            if schemes is None:
                policy.check_host(at, value)
            else:
                policy.check_url(value, at, schemes=schemes)
        except EgressRefused as exc:
            problems.append(Problem(at, exc.one_line().removeprefix(f"{at}: ")))
    return problems


def notify_target_problems(target: Mapping[str, Any], at: str, env: Mapping[str, str],
                           policy: EgressPolicy) -> list[Problem]:
    """What stops one notify target from being used: a credential variable that is not set,
    a control character in an e-mail header, a destination the egress policy refuses."""
    problems = []
    if target.get("type") == "email":
        problems += _email_header_problems(dict(target), at)
        if isinstance(target.get("host"), str):
            problems += _destination_problems([(f"{at}.host", target["host"], None)], policy)
    if target.get("type") == "webhook" and isinstance(target.get("url"), str):
        problems += _destination_problems([(f"{at}.url", target["url"], ("http", "https"))], policy)
    for key in ("username_env", "password_env", "token_env", "secret_env"):
        name = target.get(key)
        if isinstance(name, str) and name not in env:
            problems.append(Problem(f"{at}.{key}", f"environment variable {name} is not set"))
    return problems


def _notify_problems(spec: dict[str, Any], where: str, env: Mapping[str, str], policy: EgressPolicy) -> list[Problem]:
    problems = []
    for i, target in enumerate(spec.get("notify") or []):
        if isinstance(target, dict):
            problems += notify_target_problems(target, f"{where}: notify[{i}]", env, policy)
    return problems


def _store_destination_problems(spec: dict[str, Any], where: str, policy: EgressPolicy) -> list[Problem]:
    """Hosts of SPARQL and Gremlin targets, judged by the egress policy (no DNS, no request)."""
    checks: list[tuple[str, str, tuple[str, ...] | None]] = []
    for i, target in enumerate(spec.get("targets") or []):
        if not isinstance(target, dict):
            continue
        if target.get("type") == "sparql":
            for key in ("endpoint", "update", "graph_store"):
                if isinstance(target.get(key), str):
                    checks.append((f"{where}: targets[{i}].{key}", target[key], ("http", "https")))
        if target.get("type") == "gremlin" and isinstance(target.get("url"), str) and target["url"] != "embedded":
            checks.append((f"{where}: targets[{i}].url", target["url"], ("ws", "wss")))
    return _destination_problems(checks, policy)


def _target_problems(spec: dict[str, Any], where: str) -> list[Problem]:
    """Store locations are workspace settings: an untrusted spec may not point them anywhere."""
    problems = []
    for i, target in enumerate(spec.get("targets") or []):
        if isinstance(target, dict) and "location" in target:
            problems.append(Problem(f"{where}: targets[{i}].location",
                                    "not allowed in a job spec (stores live in FINCRIME_HOME)"))
    return problems


def validate_spec(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None,
                  config: SecurityConfig | None = None) -> ValidSpec:
    """Checks a spec completely; raises :class:`SpecRejected` with every problem found.

    The one entry point for every caller (``fincrime run``, ``watch``, ``jobs validate``, a
    server): it reads only files inside the spec's folder, executes nothing, sends no request
    (not even a DNS query) and raises nothing but :class:`SpecRejected`, whatever the input;
    a failure of a check itself becomes a problem of the spec. ``config`` is the operator's
    security settings (default: those of ``FINCRIME_HOME`` in ``env``).
    """
    env = os.environ if env is None else env
    spec_path = Path(path).absolute()
    try:
        config = config or load_config(env=env)
        return _validate(spec_path, env, config)
    except SpecRejected:
        raise
    except RecursionError:
        raise SpecRejected(str(spec_path), [Problem(spec_path.name, "too deeply nested to check")]) from None
    except Exception as exc:
        raise SpecRejected(str(spec_path), [Problem(spec_path.name, f"could not be checked: {type(exc).__name__}: {exc}")]) from None


def _validate(spec_path: Path, env: Mapping[str, str], config: SecurityConfig) -> ValidSpec:
    where = spec_path.name
    problems: list[Problem] = []
    if not spec_path.is_file():
        raise SpecRejected(str(spec_path), [Problem(where, "no such file")])
    dataset_dir = spec_path.parent.resolve()
    try:
        doc = read_limited(spec_path)
        digest = sha256_file(spec_path)
    except (JsonLimitError, OSError) as exc:
        raise SpecRejected(str(spec_path), [Problem(where, str(exc))]) from None
    notes: dict[str, Any] = {}
    if spec_path.name.endswith(REFERENCE_SUFFIX):
        ref_problems = _schema_problems(doc, reference_schema(), where)
        if ref_problems:
            raise SpecRejected(str(spec_path), ref_problems)
        mapping = map_reference(doc, spec_stem(spec_path), dataset_dir)
        doc, notes = mapping.spec, {"reference": mapping.notes()}
    problems += _schema_problems(doc, spec_schema(), where)
    if not isinstance(doc, dict):
        raise SpecRejected(str(spec_path), problems)
    spec = with_defaults(doc)
    if not DATASET_NAME.match(spec_path.parent.name):
        problems.append(Problem(str(spec_path.parent), "dataset folder names may use letters, digits, '.', '_' and '-' only"))
    files: dict[str, list[Path]] = {}
    for kind in KINDS:
        patterns = spec.get(kind)
        if isinstance(patterns, list) and all(isinstance(p, str) for p in patterns):
            files[kind], found = resolve_patterns(dataset_dir, patterns, kind, f"{where}: {kind}")
            problems += found
        else:
            files[kind] = []
    policy = EgressPolicy.from_entries(config.egress_allow)
    problems += _notify_problems(spec, where, env, policy)
    problems += _target_problems(spec, where)
    problems += _store_destination_problems(spec, where, policy)
    problems += query_problems(files["queries"], config)
    if isinstance(spec.get("params"), dict) and isinstance(spec.get("prefixes"), dict):
        problems += _rule_problems(files["rules"], spec, where)
    if problems:
        raise SpecRejected(str(spec_path), problems)
    return ValidSpec(
        path=spec_path,
        dataset_dir=dataset_dir,
        dataset=dataset_id(spec_path.parent.name),
        sha256=digest,
        spec=spec,
        files=files,
        notes=notes,
    )
