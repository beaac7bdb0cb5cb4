"""``fincrime watch s3://...`` against moto's real S3 server on 127.0.0.1 (not a mocked client):
specs and datasets uploaded to a bucket run as jobs, results land in the output bucket, a
rejected spec's report goes back beside it, and hostile keys are skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from server_support import SPEC, dataset_files, free_port, project_files

from fincrime.bucket import parse_s3_url

pytestmark = pytest.mark.timeout(600)
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    old = {k: os.environ.get(k) for k in CREDS}
    os.environ.update(CREDS)
    import boto3

    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    client.create_bucket(Bucket="cases-in")
    client.create_bucket(Bucket="cases-out")
    yield url, client
    server.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _keys(client, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _wait(check, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        if proc.poll() is not None:
            raise AssertionError(f"watcher exited: {log.read_text()}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {log.read_text()}")


def test_parse_s3_url():
    assert parse_s3_url("s3://cases-in/a/b/") == ("cases-in", "a/b/")
    for bad in ("s3://", "http://x/y", "s3://Bad_Name/x", "s3://b/../x"):
        with pytest.raises(Exception, match="s3://"):
            parse_s3_url(bad)


def test_bucket_specs_run_and_results_go_back(s3, tmp_path: Path):
    url, client = s3
    put = lambda key, body: client.put_object(Bucket="cases-in", Key=key, Body=body)  # noqa: E731
    # a native spec with its data, rules and queries; the spec goes last, as a writer would do it
    for name, text in dataset_files().items():
        put(f"incoming/weekly/{name}", text.encode())
    for name, data in project_files().items():
        put(f"incoming/weekly/{name}", data)
    put("incoming/weekly/weekly.job.json", json.dumps(SPEC).encode())
    # the reference solution's spec: the folder's *.nt, *.dlog and *.rq are the job
    ref = {"job_key": "refjob", "requested_cores": 1, "requested_memory": "1Gi", "auto_shutdown": False,
           "job_bucket": "cases-in", "output_bucket": "cases-out"}
    for name, text in dataset_files().items():
        put(f"incoming/ref/{name}", text.encode())
    for name, data in project_files().items():
        put(f"incoming/ref/{Path(name).name}", data)
    put("incoming/ref/refjob.rdfoxjob.json", json.dumps(ref).encode())
    # a bad spec, and keys no folder could hold
    put("incoming/broken/broken.job.json", json.dumps({"name": "broken", "data": "*.nt"}).encode())
    put("incoming/weekly/../../escape.nt", b"<a> <b> <c> .\n")
    put("incoming/weekly/.hidden.nt", b"")
    put("incoming/weekly/run.sh", b"rm -rf /\n")

    home, out, log = tmp_path / "home", tmp_path / "output", tmp_path / "watch.log"
    env = {**os.environ, **CREDS, "FINCRIME_HOME": str(home)}
    cmd = [sys.executable, "-m", "fincrime", "watch", "s3://cases-in/incoming", "--endpoint-url", url,
           "--output-bucket", "s3://cases-out/results", "--output", str(out), "--interval", "0.5", "--settle", "0.5"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        def results():
            keys = _keys(client, "cases-out", "results/")
            done = {k.split("/")[1] for k in keys if k.endswith("/manifest.json")}
            return keys if {"weekly", "ref"} <= done else None

        keys = _wait(results, 300, "both jobs' results in the output bucket", proc, log)
        weekly = [k for k in keys if k.startswith("results/weekly/")]
        job_id = weekly[0].split("/")[2]
        assert {f"results/weekly/{job_id}/{name}" for name in ("manifest.json", "results.nt", "report.html",
                                                                "chains.json")} <= set(weekly)
        manifest = json.loads(client.get_object(Bucket="cases-out", Key=f"results/weekly/{job_id}/manifest.json")["Body"].read())
        assert manifest["status"] == "done" and manifest["counts"]["chains"]["HighValueChain"] == 1
        assert not [k for k in keys if "/." in k or k.endswith("worker.log")]  # internal files stay home
        ref_manifest_key = next(k for k in keys if k.startswith("results/ref/") and k.endswith("manifest.json"))
        ref_manifest = json.loads(client.get_object(Bucket="cases-out", Key=ref_manifest_key)["Body"].read())
        assert ref_manifest["reference"]["format"] == "rdfoxjob" and ref_manifest["status"] == "done"

        report = _wait(lambda: "incoming/broken/broken.job.json.errors.json" in _keys(client, "cases-in", "incoming/broken/"),
                       60, "the rejection report beside the bad spec", proc, log)
        assert report
        errors = json.loads(client.get_object(Bucket="cases-in", Key="incoming/broken/broken.job.json.errors.json")["Body"].read())
        assert errors["problems"] and "matches no file" in json.dumps(errors)
        text = log.read_text()
        assert "run.sh: skipped" in text and ".hidden.nt: skipped" in text and "escape.nt: skipped" in text
        mirror = home / "buckets" / "cases-in" / "incoming"
        assert not (tmp_path / "escape.nt").exists() and not list(home.rglob("escape.nt"))
        assert sorted(p.name for p in (mirror / "weekly").iterdir() if p.is_file())[:2] == ["parties.nt", "transactions.nt"]
        # nothing runs twice: a second look at the same bucket adds no job
        time.sleep(3)
        assert len({k.split("/")[2] for k in _keys(client, "cases-out", "results/weekly/")}) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
