"""Specs written for the reference solution (``*.rdfoxjob.json``) mapped onto fincrime's own.

The reference ran RDFox in a Kubernetes pod over every file of an S3 "job key" folder and
optionally bulk-loaded Amazon Neptune. Here the folder is the spec's own folder: all its
``*.nt[.gz]``, ``*.dlog`` and ``*.rq`` files are the job's data, rules and queries. What has a
local meaning is mapped; what only made sense on AWS (images, buckets, namespaces) is ignored,
and each decision is written down in :class:`Mapping` notes that go to the manifest and log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REFERENCE_SUFFIX = ".rdfoxjob.json"

_IGNORED_WHY: dict[str, str] = {
    "job_bucket": "inputs come from the spec's folder, not an S3 bucket",
    "output_bucket": "results go to output/<dataset>/<job-id>/, not an S3 bucket",
    "job_id": "fincrime assigns its own sortable job id",
    "data_path": "data are the spec folder's *.nt[.gz] files",
    "parallelism": "one job runs in one process; the watcher's --workers sets concurrency",
    "init_container_image": "no containers: the job runs in-process",
    "publisher_container_image": "no containers: the job runs in-process",
    "rdfox_container_image": "no containers: the job runs in-process",
    "rdfox_init_container_image": "no containers: the job runs in-process",
    "data_generator_container_image": "use `fincrime generate` to make data",
    "license_secret_name": "no RDFox licence is needed",
    "namespace": "no Kubernetes",
    "service_account": "no Kubernetes",
    "restart_policy": "restarts are handled by the job registry (killed jobs resume)",
    "rdfox_port": "no RDFox server",
    "rdfox_password_secret": "no RDFox server",
    "number_of_messages": "generator setting; use `fincrime generate`",
    "number_of_parties": "generator setting; use `fincrime generate`",
    "max_days_before": "generator setting; use `fincrime generate`",
    "chain_days_range": "generator setting; use `fincrime generate`",
    "number_of_files": "generator setting; use `fincrime generate`",
    "thread_count": "generator setting; use `fincrime generate`",
}

# reference neptune_configuration field -> field of our "neptune" target (bulk-load files)
_NEPTUNE_KEYS = {
    "source": "source",
    "iam_role": "iam_role_arn",
    "region": "region",
}


@dataclass
class Mapping:
    """A reference spec translated: the native ``spec`` plus what was mapped and ignored."""

    spec: dict[str, Any]
    mapped: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)

    def notes(self) -> dict[str, Any]:
        return {"format": "rdfoxjob", "mapped": self.mapped, "ignored": self.ignored}


def memory_from_reference(value: str | int) -> str:
    """Kubernetes quantities (``10Gi``, or a bare number of GiB) to a memory size.

    >>> memory_from_reference("10Gi"), memory_from_reference(4), memory_from_reference("512Mi")
    ('10g', '4g', '512m')
    """
    if isinstance(value, int):
        return f"{value}g"
    m = re.fullmatch(r"\s*([0-9.]+)\s*([kKmMgGtT]?)i?[bB]?\s*", value)
    if not m:
        return value
    return f"{m.group(1)}{(m.group(2) or 'g').lower()}"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def map_reference(ref: dict[str, Any], stem: str, folder: Path | None = None) -> Mapping:
    """Maps a schema-valid reference spec (see ``reference_schema``) onto a native spec.

    Rules and queries are the folder's ``*.dlog`` and ``*.rq`` when it has any.

    >>> m = map_reference({"job_key": "demo", "requested_cores": 2, "requested_memory": "4Gi"}, "demo")
    >>> m.spec["engine"], m.spec["data"]
    ({'type': 'memory', 'cores': 2, 'memory': '4g'}, ['*.nt*'])
    """
    key = ref["job_key"].strip("/")
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", key.split("/")[-1] or stem)[:100] or "job"
    spec: dict[str, Any] = {
        "name": name,
        "description": f"mapped from reference spec (job_key {ref['job_key']!r})",
        "data": ["*.nt*"],
        "rules": ["*.dlog"] if folder is None or any(folder.glob("*.dlog")) else [],
        "queries": ["*.rq"] if folder is None or any(folder.glob("*.rq")) else [],
        "engine": {"type": "memory"},
    }
    out = Mapping(spec=spec)
    out.mapped["job_key"] = f"name {name!r}; data, rules and queries are the spec folder's *.nt[.gz], *.dlog, *.rq"
    cores = ref.get("requested_cores")
    if cores:  # 0 meant "scheduler default" in the reference
        spec["engine"]["cores"] = int(cores)
        out.mapped["requested_cores"] = f"engine.cores = {cores}"
    elif "requested_cores" in ref:
        out.ignored["requested_cores"] = "0 means no specific request"
    if ref.get("requested_memory") not in (None, "", 0):
        spec["engine"]["memory"] = memory_from_reference(ref["requested_memory"])
        out.mapped["requested_memory"] = f"engine.memory = {spec['engine']['memory']}"
    if "auto_shutdown" in ref:
        if _truthy(ref["auto_shutdown"]):
            out.ignored["auto_shutdown"] = "nothing stays running after a fincrime job"
        else:
            spec.setdefault("targets", []).append({"type": "oxigraph"})
            out.mapped["auto_shutdown"] = "false: results kept queryable in the embedded Oxigraph store"
    neptune = ref.get("neptune_configuration")
    if neptune:
        target = {"type": "neptune"}
        target.update({ours: neptune[theirs] for theirs, ours in _NEPTUNE_KEYS.items() if neptune.get(theirs)})
        spec.setdefault("targets", []).append(target)
        kept = sorted(k for k in _NEPTUNE_KEYS if neptune.get(k))
        out.mapped["neptune_configuration"] = "targets += neptune bulk-load files" + (f" ({', '.join(kept)})" if kept else "")
        rest = sorted(set(neptune) - set(kept))
        if rest:
            out.ignored["neptune_configuration." + "|".join(rest)] = "bulk-load request options are not sent from here"
    elif "neptune_configuration" in ref:
        out.ignored["neptune_configuration"] = "null"
    for key_name in sorted(set(ref) & set(_IGNORED_WHY)):
        out.ignored[key_name] = _IGNORED_WHY[key_name]
    return out
