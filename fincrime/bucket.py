"""A bucket as the input folder: ``fincrime watch s3://bucket/prefix --endpoint-url URL``.

Any S3-compatible store (AWS S3, MinIO, Ceph, moto...) through boto3; credentials come from
boto3's usual chain (``AWS_ACCESS_KEY_ID`` ..., a profile). The objects under the prefix are
laid out like the input folder, ``<prefix>/<dataset>/<file>``. A mirror of them in
``FINCRIME_HOME/buckets/<bucket>/<prefix>/`` *is* the input folder of the ordinary folder
watcher, so a spec in a bucket is validated, scheduled and run exactly as a dropped one.

Object keys are untrusted names: they pass the same name rules as uploads (plain parts, known
endings, specs at the top of their dataset) and an object larger than the size limit is
skipped with a message. Each object is downloaded to a hidden temporary and renamed into
place. A dataset's specs are downloaded last, once every other file of that dataset is in the
mirror and the spec's ETag has stayed the same for one listing (a writer may still be
uploading the rest). With ``--output-bucket s3://bucket/prefix`` every finished job's folder
is uploaded to ``<prefix>/<dataset>/<job-id>/``; a rejected spec's ``<spec>.errors.json`` goes
back beside the spec in the input bucket, as the folder watcher writes it beside a dropped one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fincrime.errors import InputError
from fincrime.jobfolder import MANIFEST, offered_files
from fincrime.jobs import registry as R
from fincrime.jobs.spec import DATASET_NAME
from fincrime.jobs.watcher import Watcher
from fincrime.server.uploads import kind_of, name_problem
from fincrime.workspace import Workspace

MAX_OBJECT_BYTES = 2 << 30
EXPORTED = ".bucket-exported.json"


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> (``bucket``, ``some/prefix/``).

    >>> parse_s3_url("s3://in/jobs"), parse_s3_url("s3://in")
    (('in', 'jobs/'), ('in', ''))
    """
    m = re.fullmatch(r"s3://([a-z0-9][a-z0-9.-]{1,62})(?:/(.*))?", url)
    if not m:
        raise InputError(f"{url!r}: expected s3://bucket[/prefix] (bucket names: lower-case letters, digits, '.', '-')")
    prefix = (m.group(2) or "").strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise InputError(f"{url!r}: the prefix may not contain empty, '.' or '..' parts")
    return m.group(1), prefix + "/" if prefix else ""


def s3_client(endpoint_url: str | None, region: str | None = None) -> Any:
    import boto3  # a fraction of a second to import: only bucket commands pay it
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60))


@dataclass
class BucketInput:
    """Keeps the mirror folder in step with the bucket, and sends finished jobs back."""

    client: Any
    bucket: str
    prefix: str
    mirror: Path
    workspace: Workspace
    output: tuple[str, str] | None = None
    max_bytes: int = MAX_OBJECT_BYTES
    say: Callable[[str], None] = print
    _etags: dict[str, str] = field(default_factory=dict)
    _spec_seen: dict[str, str] = field(default_factory=dict)
    _refused: set[str] = field(default_factory=set)
    _errors_sent: set[str] = field(default_factory=set)

    @classmethod
    def mirror_for(cls, workspace: Workspace, bucket: str, prefix: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", prefix.strip("/")) or "_"
        return workspace.home / "buckets" / bucket / safe

    # ---- input ------------------------------------------------------------------------------
    def _objects(self) -> list[dict[str, Any]]:
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            out += page.get("Contents", [])
        return out

    def _accept(self, key: str, size: int) -> tuple[str, str] | None:
        """(dataset, path in it) of an acceptable key, or None (said once)."""
        rel = key[len(self.prefix):]
        dataset, _, path = rel.partition("/")
        if rel.endswith(".errors.json") or not path:
            return None
        why = None
        if not DATASET_NAME.match(dataset):
            why = f"dataset folder {dataset!r} is not a plain name"
        elif (problem := name_problem(path)) is not None:
            why = problem
        elif size > self.max_bytes:
            why = f"{size:,} bytes is more than the limit of {self.max_bytes:,}"
        if why:
            if key not in self._refused:
                self._refused.add(key)
                self.say(f"s3://{self.bucket}/{key}: skipped: {why}")
            return None
        return dataset, path

    def _download(self, key: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".s3-{secrets.token_hex(6)}-{target.name}")
        try:
            self.client.download_file(self.bucket, key, str(tmp))
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def sync(self) -> int:
        """One pass: downloads what changed; returns how many files it wrote."""
        objects = self._objects()
        by_dataset: dict[str, list[tuple[str, str, str]]] = {}
        for obj in objects:
            accepted = self._accept(obj["Key"], int(obj.get("Size", 0)))
            if accepted:
                by_dataset.setdefault(accepted[0], []).append((obj["Key"], accepted[1], str(obj.get("ETag", ""))))
        written = 0
        for dataset, items in by_dataset.items():
            pending = False
            for key, path, etag in items:
                if kind_of(path) == "spec" or self._etags.get(key) == etag:
                    continue
                self._download(key, self.mirror / dataset / path)
                self._etags[key] = etag
                written += 1
                pending = True
            for key, path, etag in items:
                if kind_of(path) != "spec" or self._etags.get(key) == etag:
                    continue
                if pending or self._spec_seen.get(key) != etag:
                    self._spec_seen[key] = etag  # settle one listing; the rest may still be arriving
                    continue
                self._download(key, self.mirror / dataset / path)
                self._etags[key] = etag
                written += 1
                self.say(f"s3://{self.bucket}/{key}: spec downloaded")
        return written

    def settle(self, pause: float, rounds: int = 10) -> None:
        """Syncs until nothing is left to download (specs waiting for their settling listing too)."""
        for _ in range(rounds):
            wrote = self.sync()
            waiting = any(self._etags.get(k) != e for k, e in self._spec_seen.items())
            if not wrote and not waiting:
                return
            time.sleep(pause)

    # ---- output -----------------------------------------------------------------------------
    def _ours(self, job: R.JobRecord) -> bool:
        return job.spec_path.startswith(str(self.mirror.resolve()) + os.sep)

    def send_back(self, registry: R.Registry) -> int:
        """Uploads finished jobs' folders (once) and rejected specs' error reports; returns how many."""
        sent = 0
        for job in registry.list(limit=500):
            if not self._ours(job) or job.status not in R.FINAL:
                continue
            if job.status == R.REJECTED:
                sent += self._send_errors(job)
                continue
            if not self.output or not job.output_dir:
                continue
            folder = Path(job.output_dir)
            marker = folder / EXPORTED
            if marker.exists() or not folder.is_dir():
                continue
            bucket, prefix = self.output
            keys = []
            # manifest.json last: a reader who sees it finds every other file already there
            for item in sorted(offered_files(folder), key=lambda f: f["path"] == MANIFEST):
                key = f"{prefix}{job.dataset}/{job.id}/{item['path']}"
                self.client.upload_file(str(folder / item["path"]), bucket, key)
                keys.append(key)
            marker.write_text(json.dumps({"bucket": bucket, "keys": keys}), encoding="utf-8")
            self.say(f"{job.id}: {len(keys)} files to s3://{bucket}/{prefix}{job.dataset}/{job.id}/")
            sent += 1
        return sent

    def _send_errors(self, job: R.JobRecord) -> int:
        spec = Path(job.spec_path)
        report = spec.with_name(spec.name + ".errors.json")
        if job.id in self._errors_sent or not report.is_file():
            return 0
        rel = spec.relative_to(self.mirror.resolve()).as_posix()
        self.client.put_object(Bucket=self.bucket, Key=f"{self.prefix}{rel}.errors.json", Body=report.read_bytes(),
                               ContentType="application/json")
        self._errors_sent.add(job.id)
        return 1


class BucketLoop(threading.Thread):
    """Runs :meth:`BucketInput.sync` and :meth:`BucketInput.send_back` every ``interval`` seconds."""

    def __init__(self, source: BucketInput, interval: float = 2.0) -> None:
        super().__init__(daemon=True, name="fincrime-bucket")
        self.source, self.interval = source, interval
        self.stop_event = threading.Event()

    def run(self) -> None:
        registry = R.Registry(self.source.workspace.registry_path)
        try:
            while not self.stop_event.wait(self.interval):
                self.step(registry)
        finally:
            registry.close()

    def step(self, registry: R.Registry) -> None:
        try:
            self.source.sync()
            self.source.send_back(registry)
        except Exception as exc:  # a bucket that is down this round is tried again next round
            self.source.say(f"bucket: {type(exc).__name__}: {exc}")


def watch_bucket(url: str, workspace: Workspace, options: Any, *, endpoint_url: str | None, output_url: str | None,
                 say: Callable[[str], None]) -> None:
    """``fincrime watch s3://...``: the folder watcher over a mirror kept in step with the bucket."""
    bucket, prefix = parse_s3_url(url)
    output = parse_s3_url(output_url) if output_url else None
    client = s3_client(endpoint_url)
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as exc:
        raise InputError(f"s3://{bucket}: cannot reach the bucket: {exc}") from None
    mirror = BucketInput.mirror_for(workspace, bucket, prefix)
    mirror.mkdir(parents=True, exist_ok=True)
    source = BucketInput(client, bucket, prefix, mirror, workspace, output, say=say)
    loop = BucketLoop(source, interval=max(options.interval, 0.5))
    source.settle(pause=max(options.interval, 0.5))
    say(f"mirroring s3://{bucket}/{prefix} into {mirror}" + (f"; results to {output_url}" if output else ""))
    loop.start()
    try:
        Watcher(mirror, workspace, options, say=say).run()
    finally:
        loop.stop_event.set()
        loop.join(30)
        with R.Registry(workspace.registry_path) as registry, contextlib.suppress(Exception):
            source.send_back(registry)  # what finished last
