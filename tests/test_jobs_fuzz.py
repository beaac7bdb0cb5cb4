"""Bounded fuzzing of the spec validator: whatever the file holds, the answer is a ValidSpec or
a SpecRejected listing problems, never another exception, a crash or a request."""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_jobs_support import triples

from fincrime.jobs.problems import SpecRejected
from fincrime.jobs.spec import ValidSpec, validate_spec

_NASTY_TEXT = st.sampled_from([
    "", "*", "**/*", "../x.nt", "/etc/passwd", "~/x", "a\\b", "x\x00y", "hi\nBcc: x@y.z", "C:\\x", "data.nt",
    "*.nt", "q.rq", "http://169.254.169.254/", "ws://127.0.0.1:8182/gremlin", "9" * 80, "\ud800", "é" * 300,
])
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                     st.text(max_size=40), _NASTY_TEXT)
_JSON = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                     max_leaves=20)
_KEYS = ["name", "data", "rules", "queries", "prefixes", "params", "engine", "outputs", "targets", "notify",
         "retry", "timeout_minutes", "description", "$schema", "unknown"]
_NOTIFY = st.fixed_dictionaries({"type": st.sampled_from(["email", "webhook", "sms"])},
                                optional={"url": _NASTY_TEXT, "host": _NASTY_TEXT, "from": _NASTY_TEXT,
                                          "to": st.lists(_NASTY_TEXT, max_size=2), "subject": _NASTY_TEXT,
                                          "token_env": _NASTY_TEXT})
_TARGET = st.fixed_dictionaries({"type": st.sampled_from(["oxigraph", "sparql", "gremlin", "neptune", "x"])},
                                optional={"endpoint": _NASTY_TEXT, "url": _NASTY_TEXT, "location": _NASTY_TEXT,
                                          "graph_store": _NASTY_TEXT})
_SPEC = st.fixed_dictionaries(
    {"name": st.one_of(st.just("fuzz"), _NASTY_TEXT), "data": st.one_of(_NASTY_TEXT, st.lists(_NASTY_TEXT, max_size=3))},
    optional={"queries": st.one_of(_NASTY_TEXT, st.lists(_NASTY_TEXT, max_size=2)),
              "notify": st.lists(_NOTIFY, max_size=2), "targets": st.lists(_TARGET, max_size=2),
              "params": st.dictionaries(st.sampled_from(["a", "b", "_x", "9"]), _SCALARS, max_size=3),
              **{k: _JSON for k in _KEYS if k not in ("name", "data", "queries", "notify", "targets", "params")}})


def _folder() -> Path:
    root = Path(tempfile.mkdtemp(prefix="fuzz-"))
    folder = root / "ds"
    folder.mkdir()
    (folder / "data.nt").write_text(triples(2))
    (folder / "q.rq").write_text("SELECT * WHERE { ?s ?p ?o }")
    return folder


def _check(spec_path: Path) -> None:
    try:
        result = validate_spec(spec_path, env={"FINCRIME_HOME": str(spec_path.parent.parent / "home")})
    except SpecRejected as exc:
        assert exc.problems and all(p.where and p.message for p in exc.problems)
        return
    finally:
        shutil.rmtree(spec_path.parent.parent, ignore_errors=True)
    assert isinstance(result, ValidSpec)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validator sends nothing and resolves nothing: any attempt fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access during validation: {args[:2]}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(_SPEC, _JSON))
def test_any_json_document_is_accepted_or_rejected_cleanly(no_network: None, doc: Any) -> None:
    folder = _folder()
    spec = folder / "fuzz.job.json"
    spec.write_text(json.dumps(doc), encoding="utf-8", errors="surrogatepass")
    _check(spec)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_bytes_are_accepted_or_rejected_cleanly(no_network: None, data: bytes) -> None:
    spec = _folder() / "fuzz.job.json"
    spec.write_bytes(data)
    _check(spec)


_QUERY_TOKENS = st.sampled_from([
    "SELECT", "*", "WHERE", "{", "}", "(", ")", "[", "]", "?s", "?p", "?o", "<http://x/>", "SERVICE", "SILENT",
    "FILTER", "BIND", "AS", ".", ";", ",", "'a'", '"b"', "#c\n", "1", "+", "!", "||", "UNION", "OPTIONAL",
    "\\u0053ERVICE", "<http://127.0.0.1:9/>", "GRAPH", "ex:", "PREFIX ex: <http://e/>", "ASK", "CONSTRUCT",
])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tokens=st.lists(_QUERY_TOKENS, max_size=40), nest=st.integers(min_value=0, max_value=5000))
def test_any_query_file_is_accepted_or_rejected_cleanly(no_network: None, tokens: list[str], nest: int) -> None:
    folder = _folder()
    (folder / "q.rq").write_text("{" * nest + " ".join(tokens) + "}" * nest)
    spec = folder / "fuzz.job.json"
    spec.write_text(json.dumps({"name": "fuzz", "data": "*.nt", "queries": "*.rq"}))
    _check(spec)
