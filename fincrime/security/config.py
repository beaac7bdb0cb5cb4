"""The operator's security settings: ``FINCRIME_HOME/security.json`` plus environment variables.

Only the operator writes these (a job spec cannot name or change them)::

    {
      "egress":  {"allow": ["127.0.0.1", "10.20.0.0/16", "virtuoso.internal"]},
      "sparql":  {"service": ["https://query.wikidata.org/sparql"],
                  "max_query_bytes": 262144, "max_depth": 64},
      "serve":   {"cors_origins": ["https://console.example.org"], "token_env": "SPARQL_TOKEN",
                  "timeout_seconds": 30, "max_body_bytes": 10485760, "workers": 2}
    }

- ``egress.allow``: hosts, addresses and networks (CIDR) that outbound connections may reach
  although they are loopback, private, link-local or otherwise not public; ``"*"`` allows every
  address. Environment: ``FINCRIME_EGRESS_ALLOW`` (comma-separated, added to the file's list).
- ``sparql.service``: endpoint IRIs a ``SERVICE`` clause may call (an entry ending in ``*`` is a
  prefix); none by default, so ``SERVICE`` is refused. Environment: ``FINCRIME_SERVICE_ALLOW``.
- ``sparql.max_query_bytes`` / ``max_depth``: limits applied to every untrusted query.
- ``serve``: defaults of ``fincrime serve-sparql`` (its command-line options override them).

A missing file means the defaults; a malformed one is an error naming the file, never ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from fincrime.errors import InputError

CONFIG_NAME = "security.json"
ENV_EGRESS_ALLOW = "FINCRIME_EGRESS_ALLOW"
ENV_SERVICE_ALLOW = "FINCRIME_SERVICE_ALLOW"

DEFAULT_MAX_QUERY_BYTES = 256 * 1024
DEFAULT_MAX_DEPTH = 64
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024

_LIST = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 2048}, "maxItems": 1000}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "fincrime security settings (FINCRIME_HOME/security.json)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "egress": {"type": "object", "additionalProperties": False, "properties": {"allow": _LIST}},
        "sparql": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "service": _LIST,
                "max_query_bytes": {"type": "integer", "minimum": 64, "maximum": 64 * 1024 * 1024},
                "max_depth": {"type": "integer", "minimum": 2, "maximum": 1000000},
            },
        },
        "serve": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cors_origins": _LIST,
                "token_env": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
                "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
                "max_body_bytes": {"type": "integer", "minimum": 1024, "maximum": 1 << 30},
                "workers": {"type": "integer", "minimum": 1, "maximum": 64},
            },
        },
    },
}


@dataclass(frozen=True)
class ServeSettings:
    cors_origins: tuple[str, ...] = ()
    token_env: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 2


@dataclass(frozen=True)
class SecurityConfig:
    """The settings in force; ``source`` is the file they came from (None: defaults only)."""

    egress_allow: tuple[str, ...] = ()
    service_allow: tuple[str, ...] = ()
    max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES
    max_depth: int = DEFAULT_MAX_DEPTH
    serve: ServeSettings = field(default_factory=ServeSettings)
    source: Path | None = None


def _env_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def home_from_env(env: Mapping[str, str] | None = None) -> Path:
    """``FINCRIME_HOME`` (default ``./.fincrime``), as :class:`fincrime.workspace.Workspace` reads it."""
    env = os.environ if env is None else env
    return Path(env.get("FINCRIME_HOME", ".fincrime")).resolve()


def load_config(home: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> SecurityConfig:
    """Reads ``security.json`` in ``home`` (default ``FINCRIME_HOME``) and the environment.

    >>> cfg = load_config("/nonexistent", env={"FINCRIME_EGRESS_ALLOW": "127.0.0.1, 10.0.0.0/8"})
    >>> cfg.egress_allow, cfg.service_allow
    (('127.0.0.1', '10.0.0.0/8'), ())
    """
    env = os.environ if env is None else env
    path = (Path(home) if home is not None else home_from_env(env)) / CONFIG_NAME
    doc: dict[str, Any] = {}
    source = None
    if path.is_file():
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: cannot read the security settings: {exc}") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(SCHEMA).iter_errors(doc))
        if error is not None:
            at = ".".join(str(p) for p in error.absolute_path)
            raise InputError(f"{path}: {at + ': ' if at else ''}{error.message}")
        source = path
    egress, sparql, serve = doc.get("egress", {}), doc.get("sparql", {}), doc.get("serve", {})
    return SecurityConfig(
        egress_allow=(*egress.get("allow", ()), *_env_list(env, ENV_EGRESS_ALLOW)),
        service_allow=(*sparql.get("service", ()), *_env_list(env, ENV_SERVICE_ALLOW)),
        max_query_bytes=int(sparql.get("max_query_bytes", DEFAULT_MAX_QUERY_BYTES)),
        max_depth=int(sparql.get("max_depth", DEFAULT_MAX_DEPTH)),
        serve=ServeSettings(
            cors_origins=tuple(serve.get("cors_origins", ())),
            token_env=serve.get("token_env"),
            timeout_seconds=float(serve.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)),
            max_body_bytes=int(serve.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)),
            workers=int(serve.get("workers", 2)),
        ),
        source=source,
    )
