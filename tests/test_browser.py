"""Tests as a person would: Debian's chromium, driven by playwright, opens the report and the
interactive page (served by a server this test starts on 127.0.0.1 and always stops).

Playwright's own browser downloads are not used: the tests launch /usr/bin/chromium (apt-get
install chromium; .ci/run does it). Without it they fail in CI (CI=true) and skip elsewhere.
Set EQUITYSIM_SCREENSHOTS=docs to keep the screenshots (docs/report.png, docs/app.png).
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._present import result_set
from .conftest import SCENARIOS

CHROMIUM = os.environ.get("EQUITYSIM_CHROMIUM", "/usr/bin/chromium")
# As root in a container: no sandbox; no background requests to a network that is not there.
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _need_browser():
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Debian's chromium at {CHROMIUM} (apt-get install chromium; .ci/run does this)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package (pip install -e '.[test]')")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _keep(shot: Path, name: str):
    d = os.environ.get("EQUITYSIM_SCREENSHOTS")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(d) / name)


def _not_blank(shot: Path):
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)
    assert img.shape[0] > 500 and img.shape[1] > 800 and img[..., :3].std() > 0.05, "the screenshot is blank"


# ---------------------------------------------------------------------------- the report
def test_report_opens_in_chromium_with_its_charts(browser, tmp_path):
    from equitysim.report import write_report

    page_file = write_report(result_set(), tmp_path / "report.html", command="equitysim report results/seq")[0]
    page = browser.new_page(viewport={"width": 1200, "height": 1700})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    assert len(imgs) == 4, imgs  # indicators, state map, diffusion network, trajectories
    assert all(done and w > 600 and h > 300 for done, w, h in imgs), imgs
    # a self-contained page: nothing requested but the file and its inline images
    assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if not u.startswith("data:")]
    assert "Headlines" in page.inner_text("h2") or page.locator("h2", has_text="Headlines").count() == 1
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=False)
    page.close()
    _not_blank(shot)
    _keep(shot, "report.png")


# ---------------------------------------------------------------------------- the interactive page
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`equitysim app` on a free loopback port, at full US scale; stopped whatever happens."""
    _need_browser()
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    env = dict(os.environ, EQUITYSIM_APP_SCALE="1.0")
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "equitysim", "app", "--no-open", "--host", "127.0.0.1",
                                 "--port", str(port), "--scenarios", str(SCENARIOS)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"equitysim app exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"equitysim app did not listen within 180 s:\n{log.read_text()[-3000:]}")
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_interactive_page_slider_reset_step(browser, app_server, tmp_path):
    url, log = app_server
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(120_000)
    page.goto(url)
    panel = page.locator(".equitysim-indicators")
    panel.wait_for()
    heading = panel.locator("h3")
    assert heading.inner_text().startswith("Start of year 1")
    start_text = panel.inner_text()
    assert "coalition investment 0.70" in panel.locator(".knobs").inner_text()  # the roadmap's own value

    # Move the coalition-investment slider as a person would: click near the right of its track.
    row = page.locator(".v-input", has_text="Coalition investment").first
    thumb = row.locator("[role=slider]")
    before = float(thumb.get_attribute("aria-valuenow"))
    box = row.locator(".v-slider").bounding_box()
    page.mouse.click(box["x"] + 0.85 * box["width"], box["y"] + box["height"] / 2)
    assert float(thumb.get_attribute("aria-valuenow")) > before

    # Type a seed, then Reset (the step that crashes with Mesa 3.5.1's text seed).
    seed = page.locator(".v-input", has_text="Seed").locator("input")
    seed.fill("2031")
    seed.press("Enter")
    page.get_by_role("button", name="Reset").click()
    page.wait_for_function("() => document.querySelector('.equitysim-indicators .seed').innerText === '2031'")
    assert "coalition investment 1.00" in panel.locator(".knobs").inner_text()

    # Step through two years, one quarter at a time; the panel follows each quarter.
    timings = []
    for q in range(1, 9):
        year, quarter = divmod(q - 1, 4)
        t = time.perf_counter()
        page.get_by_role("button", name="Step").click()
        page.wait_for_function(
            f"() => document.querySelector('.equitysim-indicators h3').innerText.startsWith('Year {year + 1}, quarter {quarter + 1}')")
        timings.append(time.perf_counter() - t)
    text = panel.inner_text()
    assert text != start_text
    assert "(4 decided)" in heading.inner_text()  # the four year-2 indicators are judged at the end of year 2
    statuses = panel.locator("tbody tr td:last-child").all_inner_texts()
    assert len(statuses) == 12 and {s.strip() for s in statuses[:4]} <= {"met", "missed"}

    # The state map follows a toggle.
    map_img = page.locator(".equitysim-map img")
    src = map_img.get_attribute("src")
    page.get_by_role("button", name="Discipline").click()
    page.wait_for_function("(s) => document.querySelector('.equitysim-map img').src !== s", arg=src)

    body = page.inner_text("body")
    assert "Traceback" not in body and "error in" not in body.lower()
    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot))
    page.close()
    _not_blank(shot)
    _keep(shot, "app.png")
    print(f"median seconds per quarter at full US scale, rendering included: {sorted(timings)[4]:.2f}")
    assert sorted(timings)[4] < 10, timings
