"""Property-based tests of the API from its own OpenAPI description (schemathesis, bounded):
whatever a generated request holds, a real ``fincrime serve`` answers without a server error
and the server keeps serving."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from server_support import start_server, upload_dataset

pytestmark = pytest.mark.timeout(900)
#: Generated requests per operation: enough to reach odd values, small enough for the suite.
EXAMPLES = 12
SKIP = ("/api/events", "/api/jobs/{job_id}/events")  # streams that never end by design


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("fuzz"), "--max-upload", "1m")
    r = upload_dataset(srv, "fuzzdata")
    assert r.status_code == 201, r.text
    srv.wait_job(r.json()["specs"][0]["job"])
    yield srv
    srv.stop()


def test_no_generated_request_makes_a_server_error(server):
    import schemathesis
    from schemathesis.checks import not_a_server_error

    headers = {"Authorization": f"Bearer {server.tokens['ada']}"}
    schema = schemathesis.openapi.from_url(server.url + "/api/openapi.json", headers=headers)
    schema.config.update(base_url=server.url)
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue
        tried.append(f"{operation.method.upper()} {operation.path}")

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error], timeout=60)

        check()
    assert len(tried) >= 30, tried
    with server.client("ivy") as c:
        assert c.get("/api/me").status_code == 200
        assert c.get("/api/audit/verify", headers={"Authorization": f"Bearer {server.tokens['ada']}"}).json()["intact"]
