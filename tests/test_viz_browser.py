"""The pages in a real headless Chromium (Debian's), offline: drawn marks, hover, click, timing.

Every request that is not ``file://`` is aborted and recorded; each test asserts none happened.
Screenshots go to the test's temporary folder (printed with ``-s``).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from viz_support import make_jobs

from fincrime.viz import render_job, write_report
from fincrime.viz.loader import load_job

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/system-deps.sh)"),
    pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz not installed (scripts/system-deps.sh)"),
]
FIXTURES = Path(__file__).parent / "fixtures" / "viz"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Screen position of the middle of an edge's path: hovering there is hovering the transfer.
EDGE_MIDDLE = """(id) => {
  const p = document.querySelector('#' + id + ' path');
  const pt = p.getPointAtLength(p.getTotalLength() / 2), m = p.getScreenCTM();
  return [pt.x * m.a + pt.y * m.c + m.e, pt.x * m.b + pt.y * m.d + m.f];
}"""




@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


class Page:
    """A page with every non-file request blocked and recorded, and JS errors collected."""

    def __init__(self, browser, shots: Path):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.shots = shots

    def _route(self, route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def open(self, path: Path) -> float:
        start = time.perf_counter()
        self.page.goto(path.as_uri(), wait_until="load")
        return time.perf_counter() - start

    def shot(self, name: str) -> Path:
        out = self.shots / f"{name}.png"
        self.page.screenshot(path=str(out))
        print(f"screenshot: {out}")
        return out

    def hover_edge(self, edge_id: str) -> str:
        x, y = self.page.evaluate(EDGE_MIDDLE, edge_id)
        self.page.mouse.move(x, y)
        tip = self.page.locator("#tooltip")
        tip.wait_for(state="visible", timeout=3000)
        return tip.inner_text()

    def close(self) -> None:
        assert self.blocked == [], f"requests left the page: {self.blocked}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"
        self.context.close()


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    job_dir, facts = make_jobs().small_job(tmp_path_factory.mktemp("browser"))
    render_job(job_dir, formats=("html", "svg"))
    write_report(job_dir)
    return job_dir, facts, load_job(job_dir)


@pytest.fixture
def page(browser, tmp_path):
    p = Page(browser, tmp_path)
    yield p
    p.close()


def test_harness_catches_external_requests(browser, tmp_path):
    """The guard the other tests rely on: a page fetching from the network is caught."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<img src="http://198.51.100.7/x.png"><script src="https://cdn.example/x.js"></script>')
    p = Page(browser, tmp_path)
    p.open(leaky)
    assert sorted(p.blocked) == ["http://198.51.100.7/x.png", "https://cdn.example/x.js"]
    p.blocked.clear()
    p.close()


def test_thirty_hop_chain_page(job, page):
    job_dir, facts, data = job
    long = data.chain_by_iri(facts["long"])
    seconds = page.open(job_dir / "viz" / "chains" / f"{long.slug}.html")
    assert seconds < 5
    pg = page.page
    assert pg.locator("#graph svg g.node").count() == len(long.parties) == 31
    assert pg.locator("#graph svg g.edge").count() == len(long.transfers) == 30
    assert pg.locator("#hops tr.bottleneck td").first.inner_text() == "18"
    tip = page.hover_edge("t17")
    assert "1,234.56" in tip and "BOTTLENECK" in tip
    assert "hl" in (pg.locator("#hop-17").get_attribute("class") or "")  # table row follows the hover
    tip = page.hover_edge("t3")
    assert "47,300.00" in tip and "Long Hop 03 → Long Hop 04" in tip
    page.shot("chain-30-hops-hover")
    # Click a party: its other transactions in the job are listed.
    pg.locator("#p5").click()
    panel = pg.locator("#panel").inner_text()
    assert "Long Hop 05" in panel and "Transactions in this job (4)" in panel
    assert "321.00" in panel and "654.00" in panel
    assert pg.locator("#panel tr.hl").count() == 2  # the two hops of this chain
    page.shot("chain-30-hops-party")


def test_zoom_changes_the_view(job, page):
    job_dir, facts, data = job
    page.open(job_dir / "viz" / "chains" / f"{data.chain_by_iri(facts['cycle']).slug}.html")
    pg = page.page
    before = pg.evaluate("window.vizPanZoom.getZoom()")
    pg.mouse.move(500, 450)
    pg.mouse.wheel(0, -400)
    pg.wait_for_timeout(100)
    assert pg.evaluate("window.vizPanZoom.getZoom()") > before
    pan = pg.evaluate("window.vizPanZoom.getPan()")
    pg.mouse.move(500, 450)
    pg.mouse.down()
    pg.mouse.move(600, 500, steps=5)
    pg.mouse.up()
    assert pg.evaluate("window.vizPanZoom.getPan()") != pan
    assert pg.locator("#graph svg g.node").count() == 3
    assert pg.locator("#graph svg g.edge").count() == 3


def test_report_page(job, page):
    job_dir, facts, data = job
    seconds = page.open(job_dir / "report.html")
    assert seconds < 5
    pg = page.page
    rows = pg.locator("#chain-rows > tr")
    assert rows.count() == 3
    assert rows.nth(0).locator("td").nth(6).inner_text() == "72,500.00"
    rows.nth(2).locator("td").first.click()  # expand the 30-hop chain
    assert pg.locator("#chain-rows tr.hops tr").count() == 31  # header + 30 hops
    assert pg.locator("#chain-rows tr.hops tr.bottleneck").inner_text().split("\t")[0] == "18"
    page.shot("report")
    pg.fill("#filter", "cycle")
    assert pg.locator("#chain-rows > tr").count() == 1
    assert "Sam" in pg.locator("#chain-rows > tr").first.inner_text()
    pg.locator("#chain-rows a", has_text="picture").click()
    pg.wait_for_load_state()
    assert pg.url.endswith(f"{data.chain_by_iri(facts['cycle']).slug}.html")


def test_overview_page(job, page):
    job_dir, _, data = job
    page.open(job_dir / "viz" / "overview.html")
    pg = page.page
    parties = {p for c in data.chains for p in c.parties}
    links = {(t.originator, t.beneficiary) for c in data.chains for t in c.transfers}
    assert pg.locator("#graph svg g.node").count() == len(parties)
    assert pg.locator("#graph svg g.edge").count() == len(links)
    assert pg.locator("#timeline circle.tl-hop").count() == sum(len(c.transfers) for c in data.chains)
    assert pg.locator("#truncation").count() == 0
    tip = page.hover_edge("e0")
    assert "chains" in tip and "Total amount" in tip
    pg.locator("#n0").click()
    assert pg.locator("#panel a").count() >= 1
    pg.locator("#timeline circle.tl-hop[fill='#d62728']").first.hover()
    assert "bottleneck" in pg.locator("#tooltip").inner_text()
    page.shot("overview")


@pytest.mark.slow
def test_ten_thousand_chain_report_opens_fast(browser, tmp_path_factory, tmp_path):
    job_dir = make_jobs().scale_job(tmp_path_factory.mktemp("scale"))
    render_job(job_dir, top=20)
    write_report(job_dir)
    p = Page(browser, tmp_path)
    seconds = p.open(job_dir / "report.html")
    assert p.page.locator("#chain-rows > tr").count() == 50
    assert "10,000 chains" in p.page.locator("#page-info").inner_text()
    assert seconds < 5, seconds
    start = time.perf_counter()
    p.page.fill("#filter", "Party 00010")
    assert time.perf_counter() - start < 3
    p.shot("report-10k")
    seconds = p.open(job_dir / "viz" / "overview.html")
    assert seconds < 8, seconds
    assert p.page.locator("#truncation").count() == 1
    assert p.page.locator("#graph svg g.node").count() == 300  # the cap
    p.shot("overview-10k")
    p.close()
