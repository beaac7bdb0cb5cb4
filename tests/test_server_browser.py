"""The console in Debian's Chromium (Playwright), against a real ``fincrime serve``:
upload a dataset and spec -> the job runs and its progress updates live -> open an alert,
escalate it -> a second user confirms -> export the case. Every request that is not to the
server on 127.0.0.1 is aborted and recorded; the test asserts there was none.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect
from server_support import PASSWORD, SPEC, dataset_files, project_files, start_server

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/system-deps.sh)"),
    pytest.mark.timeout(600),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT = os.environ.get("FINCRIME_SCREENSHOT")  # set to docs/console.png to refresh the README picture
# Records every text the status badge shows, across reloads: only the page's own script
# (server-sent events) changes it, so more than one entry means the page updated live.
WATCH_STATUS = """
(() => {
  const key = 'fincrime-statuses';
  const note = (s) => { const seen = JSON.parse(sessionStorage.getItem(key) || '[]'); seen.push(s); sessionStorage.setItem(key, JSON.stringify(seen)); };
  document.addEventListener('DOMContentLoaded', () => {
    const badge = document.querySelector('#job [data-status], h1 [data-status]');
    if (!badge) return;
    note('loaded:' + badge.textContent);
    new MutationObserver(() => note('live:' + badge.textContent)).observe(badge, {childList: true, characterData: true, subtree: true});
    const bar = document.querySelector('#job [data-progress]');
    if (bar) new MutationObserver(() => note('progress:' + bar.value)).observe(bar, {attributes: true});
  });
})();
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("browser"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Session:
    def __init__(self, browser, server, blocked: list[str]):
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
        self.context.route("**/*", self._route)
        self.context.add_init_script(WATCH_STATUS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.blocked = blocked

    def _route(self, route):
        parts = urlsplit(route.request.url)
        if (parts.scheme in ("http", "https") and parts.hostname == "127.0.0.1" and parts.port == self.server.port) or parts.scheme in ("data", "blob", "about"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def login(self, user: str) -> None:
        self.page.goto(self.server.url + "/jobs")
        assert "/login" in self.page.url
        self.page.fill("input[name=username]", user)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url("**/jobs")

    def close(self) -> None:
        self.context.close()


def test_upload_run_triage_and_export_in_the_browser(browser, server, tmp_path: Path):
    blocked: list[str] = []
    files = tmp_path / "upload"
    (files / "rules").mkdir(parents=True)
    for name, text in dataset_files(extra_transactions=4000).items():
        (files / name).write_text(text)
    for name, data in project_files().items():
        (files / Path(name).name).write_bytes(data)
    spec = files / "browser.job.json"
    spec.write_text(json.dumps({**SPEC, "name": "browser"}))

    ivy = Session(browser, server, blocked)
    ivy.login("ivy")
    page = ivy.page
    page.click("text=Upload")
    page.fill("#dataset", "browser")
    page.set_input_files("#files", sorted(str(p) for p in files.iterdir() if p.is_file() and p != spec))
    page.fill("#folder", "rules")  # rules and queries go to rules/ (the spec's rules/*.dlog)
    page.set_input_files("#spec", str(spec))
    page.click("#send")
    page.wait_for_selector("#upload-files", timeout=60_000)
    assert "rejected" in page.inner_text("#upload-result")  # queries/*.rq matched nothing: listed, not run
    assert "queries/*.rq" in page.inner_text("#upload-problems")
    # the spec wants queries/*.rq: the queries again, into queries/, with the spec
    page.set_input_files("#files", sorted(str(p) for p in files.iterdir() if p.suffix == ".rq"))
    page.fill("#folder", "queries")
    page.set_input_files("#spec", str(spec))
    page.click("#send")
    page.wait_for_selector("a.job-link", timeout=60_000)
    page.click("a.job-link")
    page.wait_for_url("**/jobs/browser_*")
    expect(page.locator("h1 [data-status]")).to_have_text("done", timeout=240_000)
    seen = json.loads(page.evaluate("sessionStorage.getItem('fincrime-statuses')"))
    live = [s for s in seen if s.startswith(("live:", "progress:"))]
    assert live, seen  # the page changed by itself, from server-sent events
    assert seen[0].split(":", 1)[1] != "done", seen
    page.wait_for_selector("a.button:has-text('Alerts')", timeout=60_000)
    if SCREENSHOT:
        job_url = page.url
        page.goto(server.url + "/jobs")
        page.wait_for_selector("tr[data-job]")
        page.screenshot(path=SCREENSHOT)
        page.goto(job_url)

    page.click("a.button:has-text('Alerts')")
    page.click("tr:has-text('HighValueChain') >> a >> nth=1")
    page.wait_for_url("**/alerts/*")
    alert_url = page.url
    page.click("#do-start")
    page.fill("form[action$='/escalate'] input[name=reason]", "Funds moved through a mule within a day")
    page.click("#do-escalate")
    assert "escalated" in page.inner_text("#alert-status")
    assert page.locator("#do-review").count() == 0  # the escalator cannot confirm
    page.click("#do-add-to-case")
    page.wait_for_url("**/cases/*")
    case_url = page.url
    ivy.close()

    rex = Session(browser, server, blocked)
    rex.login("rex")
    page = rex.page
    page.goto(alert_url)
    page.select_option("#outcome", "confirmed")
    page.fill("form[action$='/close'] input[name=reason]", "Confirmed after review")
    page.click("#do-review")
    assert "closed: confirmed" in page.inner_text("#alert-status")
    history = page.inner_text("#history")
    assert "alert.escalate" in history and "alert.close" in history and "rex" in history and "ivy" in history
    page.goto(case_url)
    with page.expect_download() as download:
        page.click("#export-goaml")
    xml = Path(download.value.path()).read_text()
    assert "<report_code>STR</report_code>" in xml and "<amount_local>50000.00</amount_local>" in xml
    with page.expect_download() as download:
        page.click("#export-bundle")
    assert download.value.suggested_filename.endswith(".zip")
    for path in ("/sparql", "/audit", "/cases"):
        page.goto(server.url + path)
    page.goto(server.url + "/sparql")
    page.click("#run")
    page.wait_for_selector("#sparql-result")
    assert page.locator("#sparql-result tbody tr").count() == 2
    # the one failed load is the rejected upload's 422, on purpose
    errors = [e for e in ivy.errors + rex.errors if "status of 422" not in e]
    rex.close()
    assert not errors, errors
    assert not blocked, blocked


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed")
def test_chain_pages_show_in_the_console(browser, server):
    s = Session(browser, server, blocked := [])
    s.login("ivy")
    page = s.page
    page.goto(server.url + "/jobs")
    page.click("tr[data-job] a >> nth=0")
    page.click("a.button:has-text('Chains')")
    page.click("table.grid tbody tr >> nth=0 >> a >> nth=0")
    page.wait_for_selector("iframe.picture")
    frame = page.frame_locator("iframe.picture")
    assert frame.locator("svg").count() >= 1
    s.close()
    # svg-pan-zoom inside the (viz-owned) chain page complains while its frame is laid out
    errors = [e for e in s.errors if "SVGMatrix" not in e]
    assert not blocked and not errors, (blocked, errors)
