"""The JSON Schema of job specs (published as ``jobs/schema.json``) and of reference specs.

``spec_schema()`` is the single source: ``fincrime jobs schema`` prints it and a test checks
the published copy is identical. Load-target fields are taken from ``fincrime.stores`` when it
publishes ``TARGET_SCHEMA``; otherwise the minimal built-in definitions below apply.
"""

from __future__ import annotations

import copy
import importlib
from typing import Any

SCHEMA_ID = "https://w3id.org/fincrime/job.schema.json"

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,99}$"
_PARAM_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
_PREFIX_NAME = r"^([A-Za-z][A-Za-z0-9_.-]{0,31})?$"
_IRI = r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*$"
_MEMORY = r"^[0-9]+(\.[0-9]+)?\s*([kKmMgGtT]i?[bB]?)?$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_HTTP_URL = r"^https?://[^\s]+$"
# Header fields of a notification e-mail: a CR or LF would start a header of the spec's choosing.
_ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
_ADDRESS = r"^[^\s@<>,;:\"()\[\]\\\x00-\x1f\x7f]+@[^\s@<>,;:\"()\[\]\\\x00-\x1f\x7f]+$"
_SMTP_HOST = r"^[A-Za-z0-9._:-]+$"
_STATUSES = ["done", "failed", "rejected", "cancelled"]

_PATTERNS: dict[str, Any] = {
    "description": "Paths or globs relative to the spec's folder; every match must stay inside it.",
    "oneOf": [
        {"type": "string", "minLength": 1, "maxLength": 512},
        {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 512},
            "maxItems": 256,
        },
    ],
}

_ON: dict[str, Any] = {
    "description": "Final statuses that trigger this notification (default: all of them).",
    "type": "array",
    "items": {"enum": _STATUSES},
    "uniqueItems": True,
    "minItems": 1,
}

_EMAIL: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "host", "from", "to"],
    "properties": {
        "type": {"const": "email"},
        "host": {"type": "string", "minLength": 1, "maxLength": 253, "pattern": _SMTP_HOST},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
        "tls": {
            "description": "starttls (default), ssl (implicit TLS) or none.",
            "enum": ["starttls", "ssl", "none"],
        },
        "username_env": {"type": "string", "pattern": _ENV_NAME,
                         "description": "Name of the environment variable holding the user."},
        "password_env": {"type": "string", "pattern": _ENV_NAME,
                         "description": "Name of the environment variable holding the password."},
        "from": {"type": "string", "minLength": 3, "maxLength": 254, "pattern": _ADDRESS},
        "to": {
            "type": "array",
            "items": {"type": "string", "minLength": 3, "maxLength": 254, "pattern": _ADDRESS},
            "minItems": 1,
            "maxItems": 50,
        },
        "subject": {"type": "string", "maxLength": 200, "pattern": _ONE_LINE,
                    "description": "One line: control characters (CR, LF, ...) are refused."},
        "on": _ON,
    },
}

_WEBHOOK: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "url"],
    "properties": {
        "type": {"const": "webhook"},
        "url": {"type": "string", "pattern": _HTTP_URL, "maxLength": 2048},
        "token_env": {"type": "string", "pattern": _ENV_NAME,
                      "description": "Environment variable holding a bearer token."},
        "secret_env": {
            "type": "string",
            "pattern": _ENV_NAME,
            "description": "Environment variable holding an HMAC key; the body is signed in "
            "the X-Fincrime-Signature header (sha256=<hex>).",
        },
        "timeout_seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
        "on": _ON,
    },
}

# Used only when this build has no fincrime.stores (which publishes the real target schema).
_BUILTIN_TARGETS: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"enum": ["oxigraph", "sparql", "gremlin", "neptune"]}},
    },
}


def _targets_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``targets`` array schema and the ``$defs`` it refers to (hoisted to our root)."""
    try:
        stores = importlib.import_module("fincrime.stores")
        published = copy.deepcopy(stores.targets_schema())
    except (ImportError, AttributeError):
        return copy.deepcopy(_BUILTIN_TARGETS), {}
    defs = published.pop("$defs", {})
    for key in ("$schema", "$id", "title"):
        published.pop(key, None)
    return published, defs


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``*.job.json`` spec.

    >>> "data" in spec_schema()["required"]
    True
    """
    targets, defs = _targets_schema()
    targets["maxItems"] = 16
    targets["description"] = ("Where the results are loaded. Without this key: the embedded store "
                              '([{"type": "oxigraph"}]); an empty list loads nothing.')
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "fincrime job spec",
        "description": "A job: data, rules and queries in one dataset folder, run end to end. "
        "Unknown fields are errors.",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "data"],
        "properties": {
            "$schema": {"type": "string", "maxLength": 512},
            "name": {"type": "string", "pattern": _NAME},
            "description": {"type": "string", "maxLength": 4000},
            "data": {**_PATTERNS, "description": "N-Triples input (*.nt, *.nt.gz)."},
            "rules": {**_PATTERNS, "description": "Datalog rule files (*.dlog)."},
            "queries": {**_PATTERNS, "description": "SPARQL queries (*.rq) run after reasoning."},
            "ground_truth": {**_PATTERNS, "description": "Ground truth of laundering attempts (*.nt, *.nt.gz "
                             "or the generator's ground-truth.csv): scored in the report and by fincrime score, "
                             "never loaded as data."},
            "prefixes": {
                "type": "object",
                "maxProperties": 64,
                "propertyNames": {"pattern": _PREFIX_NAME},
                "additionalProperties": {"type": "string", "pattern": _IRI, "maxLength": 1024},
            },
            "params": {
                "description": "Rule parameters, visible to rules as [param:job, param:<name>, value].",
                "type": "object",
                "maxProperties": 64,
                "propertyNames": {"pattern": _PARAM_NAME},
                "additionalProperties": {
                    "oneOf": [
                        {"type": "string", "maxLength": 1024},
                        {"type": "number"},
                        {"type": "boolean"},
                    ]
                },
            },
            "engine": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "type": {"enum": ["memory", "spark"]},
                    "master": {"type": "string", "pattern": r"^(local(\[([0-9]+|\*)\])?|spark://\S+|yarn|k8s://\S+)$"},
                    "cores": {"type": "integer", "minimum": 1, "maximum": 1024},
                    "memory": {"type": "string", "pattern": _MEMORY},
                    "partitions": {"type": "integer", "minimum": 1, "maximum": 100000},
                    "max_facts": {"description": "Reasoning stops, and the job fails, past this many facts "
                                  "(default 2 billion): a rule that derives without end.",
                                  "type": "integer", "minimum": 1},
                    "timeout_minutes": {"description": "Reasoning stops, and the job fails, after this long.",
                                        "type": "number", "exclusiveMinimum": 0, "maximum": 10080},
                },
            },
            "outputs": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "formats": {
                        "description": "Result files for SELECT queries that are not ?S ?P ?O.",
                        "type": "array",
                        "items": {"enum": ["csv", "json"]},
                        "uniqueItems": True,
                    },
                    "visualizations": {
                        "description": "Picture formats of the chain visualizations (none by default).",
                        "type": "array",
                        "items": {"enum": ["html", "svg", "png"]},
                        "uniqueItems": True,
                    },
                    "top": {"type": "integer", "minimum": 1, "maximum": 100000},
                    "report": {"type": "boolean"},
                },
            },
            "keep": {
                "description": "What the job keeps and loads. Results are the derived facts "
                "about derived subjects that are not intermediate, and about the derived subjects "
                "they lead to (a suspicious chain and the chains it extends).",
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "intermediate": {
                        "description": "Classes whose members are intermediate facts, as prefixed names "
                        "or IRIs (default: type:PartialChain, type:FlowPath). An empty list keeps everything.",
                        "type": "array",
                        "maxItems": 64,
                        "items": {"type": "string", "minLength": 1, "maxLength": 1024},
                        "uniqueItems": True,
                    },
                    "derived": {
                        "description": "Form of the full derived set kept on disk (default parquet).",
                        "enum": ["parquet", "nt.gz", "nt", "none"],
                    },
                    "load": {
                        "description": "What the stores get as the job's graph: the results (default) "
                        "or every derived fact.",
                        "enum": ["results", "all"],
                    },
                    "inputs": {
                        "description": "Input facts the stores (and the job's queries) get: every input "
                        "file (default) or only the results' context, the input facts about what the results "
                        "mention (much faster to load for large inputs; queries over other input facts then "
                        "find nothing).",
                        "enum": ["context", "all"],
                    },
                },
            },
            "targets": targets,
            "notify": {
                "type": "array",
                "maxItems": 16,
                "items": {
                    "type": "object",
                    "required": ["type"],
                    "properties": {"type": {"enum": ["email", "webhook"]}},
                    "allOf": [
                        {"if": {"properties": {"type": {"const": "email"}}}, "then": _EMAIL},
                        {"if": {"properties": {"type": {"const": "webhook"}}}, "then": _WEBHOOK},
                    ],
                },
            },
            "retry": {
                "description": "Transient failures (a store that is down) are retried with backoff.",
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
                    "backoff_seconds": {"type": "number", "minimum": 0, "maximum": 600},
                },
            },
            "timeout_minutes": {
                "description": "Under `fincrime watch`, a job running longer is stopped and failed.",
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": 10080,
            },
        },
    }
    if defs:
        schema["$defs"] = defs
    return schema


def reference_schema() -> dict[str, Any]:
    """The JSON Schema of a reference-solution ``*.rdfoxjob.json`` (every field it knows)."""
    text = {"type": "string", "maxLength": 1024}
    neptune = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "cluster_endpoint": text,
            "source_format": text,
            "source": text,
            "iam_role": text,
            "region": text,
            "mode": text,
            "fail_on_error": {"type": ["boolean", "string"]},
            "parallelism": text,
            "update_single_cardinality_properties": {"type": ["boolean", "string"]},
            "queue_request": {"type": ["boolean", "string"]},
            "named_graph": {"type": ["string", "null"], "maxLength": 1024},
        },
    }
    optional_int = {"type": ["integer", "null"], "minimum": 0}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "reference solution job (*.rdfoxjob.json)",
        "type": "object",
        "additionalProperties": False,
        "required": ["job_key"],
        "properties": {
            "job_key": {"type": "string", "minLength": 1, "maxLength": 512},
            "job_id": {"type": ["string", "null"], "maxLength": 256},
            "job_bucket": text,
            "output_bucket": text,
            "requested_cores": {"type": "integer", "minimum": 0, "maximum": 1024},
            "requested_memory": {"oneOf": [{"type": "string", "pattern": _MEMORY}, {"type": "integer", "minimum": 0}]},
            "auto_shutdown": {"type": ["boolean", "string"]},
            "parallelism": {"type": "integer", "minimum": 0},
            "data_path": {"type": ["string", "null"], "maxLength": 1024},
            "data_generator_container_image": {"type": ["string", "null"], "maxLength": 1024},
            "number_of_messages": optional_int,
            "number_of_parties": optional_int,
            "max_days_before": optional_int,
            "chain_days_range": optional_int,
            "number_of_files": optional_int,
            "thread_count": optional_int,
            "init_container_image": text,
            "publisher_container_image": text,
            "rdfox_container_image": text,
            "rdfox_init_container_image": text,
            "license_secret_name": text,
            "namespace": text,
            "service_account": text,
            "rdfox_port": {"type": "integer"},
            "rdfox_password_secret": text,
            "restart_policy": text,
            "neptune_configuration": {"oneOf": [neptune, {"type": "null"}]},
        },
    }
