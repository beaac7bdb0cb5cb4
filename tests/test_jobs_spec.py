"""Spec validation: schema, limits, path safety, reference specs, every problem at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_jobs_support import make_dataset, write_json

from fincrime.jobs.paths import resolve_patterns
from fincrime.jobs.problems import SpecRejected
from fincrime.jobs.safejson import JsonLimitError, loads_limited, nesting_depth
from fincrime.jobs.schema import spec_schema
from fincrime.jobs.spec import validate_spec

REPO = Path(__file__).resolve().parents[1]


def problems_of(path: Path, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SpecRejected) as info:
        validate_spec(path, env=env or {})
    return [p.render() for p in info.value.problems]


def test_published_schema_is_the_generated_one() -> None:
    published = json.loads((REPO / "jobs" / "schema.json").read_text())
    generated = spec_schema()
    hint = "regenerate: fincrime jobs schema --write jobs/schema.json"
    # the target definitions come from fincrime.stores and may be reworded there; their set may not drift
    assert set(published.pop("$defs", {})) == set(generated.pop("$defs", {})), hint
    assert published == generated, hint
    jsonschema.Draft202012Validator.check_schema(published)


@pytest.mark.parametrize("example", sorted((REPO / "jobs").glob("*.job.json")), ids=lambda p: p.name)
def test_examples_follow_the_schema(example: Path) -> None:
    doc = json.loads(example.read_text())
    errors = list(jsonschema.Draft202012Validator(spec_schema()).iter_errors(doc))
    assert not errors, [e.message for e in errors]


def test_valid_spec_resolves_globs_and_defaults(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, spec={"name": "x", "data": ["*.nt"], "queries": "*.rq", "params": {"t": 5}})
    valid = validate_spec(spec, env={})
    resolved = valid.resolved()
    assert resolved["data"] == ["data.nt"]
    assert resolved["queries"] == ["amounts.rq", "transactions.rq"]
    assert resolved["retry"] == {"attempts": 3, "backoff_seconds": 2.0}
    assert valid.dataset == "ds"


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, spec={
        "name": "x",
        "data": ["missing.nt", "../escape.nt"],
        "queries": "bad.rq",
        "engine": {"type": "gpu"},
        "colour": "blue",
        "notify": [{"type": "email", "host": "h", "from": "a@b", "to": ["c@d"], "password_env": "NOPE_PW"}],
        "targets": [{"type": "oxigraph", "location": "/tmp/elsewhere"}],
    }, queries={"bad.rq": "SELECT ?x WHERE { ?x ?y }"})
    found = "\n".join(problems_of(spec))
    for expected in ("'colour' was unexpected", "engine.type", "missing.nt", "'..' is not allowed",
                     "bad.rq:1:", "NOPE_PW is not set", "targets[0].location"):
        assert expected in found, f"{expected!r} not in:\n{found}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "x", "data": "*.nt"', "invalid JSON"),
        ('{"name": "x", "name": "y", "data": "*.nt"}', "duplicate key"),
        ('{"name": "x", "data": "*.nt", "params": {"a": NaN}}', "NaN"),
        ("[" * 40 + "]" * 40, "nested 40 levels"),
        ('"just a string"', "is not of type 'object'"),
        ('{"name": "x"}', "'data' is a required property"),
        ('{"name": "x", "data": 5}', "data"),
    ],
)
def test_rejections(tmp_path: Path, text: str, expected: str) -> None:
    spec = make_dataset(tmp_path)
    spec.write_text(text)
    assert any(expected in p for p in problems_of(spec)), problems_of(spec)


def test_size_limit(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path)
    spec.write_text(json.dumps({"name": "x", "data": "*.nt", "description": "x" * (2 << 20)}))
    assert any("larger than" in p for p in problems_of(spec))


@pytest.mark.parametrize(
    "pattern",
    ["/etc/passwd", "../ds2/data.nt", "sub/../../x.nt", "~/x.nt", "..\\x.nt", "C:/x.nt", "**/../../*.nt"],
)
def test_path_escapes_are_refused(tmp_path: Path, pattern: str) -> None:
    (tmp_path / "ds2").mkdir()
    (tmp_path / "ds2" / "data.nt").write_text("")
    spec = make_dataset(tmp_path, spec={"name": "x", "data": pattern})
    assert problems_of(spec)


def test_symlink_escapes_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "x.nt").write_text("")
    spec = make_dataset(tmp_path, spec={"name": "x", "data": ["link.nt", "dirlink/*.nt"]})
    os.symlink(outside / "x.nt", spec.parent / "link.nt")
    os.symlink(outside, spec.parent / "dirlink")
    found = problems_of(spec)
    assert sum("outside the dataset folder" in p for p in found) == 2, found


def test_symlink_inside_is_fine(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, spec={"name": "x", "data": "alias.nt"})
    os.symlink(spec.parent / "data.nt", spec.parent / "alias.nt")
    assert validate_spec(spec, env={}).files["data"] == [spec.parent / "alias.nt"]


def test_dataset_folder_name_must_be_safe(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, name="bad name")
    assert any("dataset folder names" in p for p in problems_of(spec))


def test_sparql_update_is_refused(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, queries={"drop.rq": "DROP ALL"})
    assert any("drop.rq" in p for p in problems_of(spec))


def test_rule_syntax_errors_are_listed_per_file(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, spec={"name": "x", "data": "*.nt", "rules": "*.dlog"})
    (spec.parent / "a.dlog").write_text("[?x, a, :B] :- [?x, a, :A] \n")
    (spec.parent / "b.dlog").write_text("this is not datalog ((\n")
    found = problems_of(spec)
    assert any("b.dlog:1" in p for p in found), found


def test_reference_spec_is_mapped_with_notes(tmp_path: Path) -> None:
    ref = json.loads((REPO / "jobs" / "reference-style.rdfoxjob.json").read_text())
    spec = make_dataset(tmp_path, name="demo", spec=ref, spec_name="demo_2cores.rdfoxjob.json")
    valid = validate_spec(spec, env={})
    assert valid.spec["engine"] == {"type": "memory", "cores": 2, "memory": "4g"}
    assert [t["type"] for t in valid.spec["targets"]] == ["neptune"]
    assert valid.spec["targets"][0]["iam_role_arn"].startswith("arn:aws:iam::")
    ignored = valid.notes["reference"]["ignored"]
    assert {"output_bucket", "auto_shutdown", "rdfox_container_image"} <= set(ignored)
    assert valid.files["data"] == [spec.parent / "data.nt"]


def test_reference_spec_with_unknown_field_is_rejected(tmp_path: Path) -> None:
    spec = make_dataset(tmp_path, name="demo", spec={"job_key": "demo", "warp_drive": True},
                        spec_name="x.rdfoxjob.json")
    assert any("warp_drive" in p for p in problems_of(spec))


# ---- properties ------------------------------------------------------------------------------
_segments = st.sampled_from(["..", ".", "a", "b", "*", "**", "link", "out", "", "~", "/", "\\", "x.nt", "*.nt"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_segments, min_size=1, max_size=6))
def test_resolved_paths_never_leave_the_folder(tmp_path_factory: pytest.TempPathFactory, parts: list[str]) -> None:
    base = tmp_path_factory.mktemp("prop")
    root = base / "ds"
    (root / "a").mkdir(parents=True)
    (root / "a" / "x.nt").write_text("")
    (root / "x.nt").write_text("")
    (base / "out").mkdir()
    (base / "out" / "x.nt").write_text("")
    os.symlink(base / "out", root / "link")
    pattern = "/".join(parts)
    files, _ = resolve_patterns(root.resolve(), [pattern], "data", "spec")
    for f in files:
        assert f.resolve().is_relative_to(root.resolve()), (pattern, f)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                     max_leaves=20)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=200, deadline=None)
@given(_json)
def test_nesting_depth_matches_structure(value: object) -> None:
    text = json.dumps(value)
    assert nesting_depth(text) == _depth(value)
    if _depth(value) <= 16:
        assert loads_limited(text) == value
    else:
        with pytest.raises(JsonLimitError):
            loads_limited(text)


def test_write_json_helper_is_atomic(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
