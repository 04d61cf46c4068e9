"""Tests as a person would: Debian's chromium, driven by playwright, opens the report and the
interactive page's two pages, one future and the strategist's (served by a server this test starts
on 127.0.0.1 and always stops).

Playwright's own browser downloads are not used: the tests launch /usr/bin/chromium (apt-get
install chromium; .ci/run does it). Without it they fail in CI (CI=true) and skip elsewhere.
Set EQUITYSIM_SCREENSHOTS=docs to keep the screenshots (docs/report.png, docs/app.png,
docs/strategist.png). EQUITYSIM_STRATEGIST_TIMING=1 also times 100 full-scale futures on the
strategist's page (test_strategist_page_timing; several minutes, off by default).
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ._present import result_set
from .conftest import IN_CI, SCENARIOS

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
        if IN_CI:
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


# The strategist's page starts with 8 futures on a world 5% of the US here (a Run in seconds).
STRATEGIST_ENV = {"EQUITYSIM_STRATEGIST_FUTURES": "8", "EQUITYSIM_STRATEGIST_SCALE": "0.05"}


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """`equitysim app` on a free loopback port, the one-future page at full US scale; stopped
    whatever happens."""
    yield from _serve(tmp_path_factory, {"EQUITYSIM_APP_SCALE": "1.0", **STRATEGIST_ENV})


def _serve(tmp_path_factory, extra_env: dict):
    _need_browser()
    port = _free_port()
    log = tmp_path_factory.mktemp("app") / "server.log"
    env = dict(os.environ, **extra_env)
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

    # Mesa's lone "Page 0" tab is not shown; the pages are named in the app bar.
    body = page.inner_text("body").lower()
    assert "page 0" not in body and "one future" in body and "strategist: many futures" in body

    # Every slider shows its value and its unit.
    sliders = page.locator(".equitysim-slider")
    assert sliders.count() == 11
    assert "Budget x1.00" in sliders.nth(4).inner_text() and "times the scenario's budget" in sliders.nth(4).inner_text()

    # Move the coalition-investment slider as a person would: click near the right of its track.
    row = page.locator(".equitysim-slider", has_text="Coalition investment").first
    thumb = row.locator("[role=slider]")
    before = float(thumb.get_attribute("aria-valuenow"))
    assert f"Coalition investment {before:+.2f}" in row.inner_text()
    box = row.locator(".v-slider").bounding_box()
    page.mouse.click(box["x"] + 0.85 * box["width"], box["y"] + box["height"] / 2)
    now = float(thumb.get_attribute("aria-valuenow"))
    assert now > before
    page.wait_for_function("(t) => document.body.innerText.includes(t)", arg=f"Coalition investment {now:+.2f}")
    assert "share of the maximum organizing effort, added to the scenario's" in row.inner_text()

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


# ---------------------------------------------------------------------------- the strategist's page
def _fill(page, css: str, text: str):
    box = page.locator(f"{css} input").first
    box.fill(text)
    box.press("Enter")


def _slider_right(page, row, presses: int):
    thumb = row.locator("[role=slider]")
    thumb.focus()
    for _ in range(presses):
        thumb.press("ArrowRight")


def test_strategist_page_compose_run_save_reproduce(browser, app_server, tmp_path):
    from playwright.sync_api import expect

    url, log = app_server
    # Tall enough to show the answer below the timeline in the screenshot.
    page = browser.new_page(viewport={"width": 1500, "height": 2800}, accept_downloads=True)
    page.set_default_timeout(120_000)
    page.goto(url + "strategist")
    page.locator(".strategist-timeline").wait_for()
    assert page.locator(".futures input").input_value() == "8"
    bars = page.locator(".strategist-timeline .bar")
    assert bars.count() == 24  # every action group of the roadmap's sequence

    # Bad input gets one message naming the field, and Run waits for a valid plan.
    run = page.get_by_role("button", name="Run", exact=True)
    _fill(page, ".futures", "5000")
    page.locator(".futures-error").wait_for()
    assert "futures: expected a whole number from 1 to 1000, got 5000" in page.inner_text(".futures-error")
    assert run.is_disabled()
    _fill(page, ".futures", "8")
    page.locator(".futures-error").wait_for(state="detached")

    # Compose: move the state funding bills to years 1-4, stronger, in favourable states only.
    page.get_by_role("button", name="state_funding_bills", exact=True).click()
    page.locator(".strategist-editor", has_text="state_funding_bills").wait_for()
    _fill(page, ".end-year", "0")
    page.locator(".plan-error").wait_for()
    assert ("sequence.3 (state_funding_bills): expected end_year greater than start_year"
            in page.inner_text(".plan-error"))
    assert run.is_disabled()
    _fill(page, ".start-year", "1")
    _fill(page, ".end-year", "4")
    page.locator(".plan-error").wait_for(state="detached")
    bar = page.locator(".bar-state_funding_bills .bar")
    # the timeline redraws after the edit: wait for it (fails on timeout if the edit is lost)
    expect(bar).to_have_attribute("data-start", "1")
    expect(bar).to_have_attribute("data-end", "4")
    intensity = page.locator(".strategist-editor .equitysim-slider", has_text="Intensity")
    _slider_right(page, intensity, 10)
    page.wait_for_function("() => document.querySelector('.strategist-editor').innerText.includes('Intensity x1.50')")
    page.locator(".where-select").click()
    page.locator(".v-menu__content .v-list-item", has_text="favorable").click()
    page.wait_for_function("() => document.querySelector('.where-select').innerText.includes('favorable')")

    # ... and the strategy: faster pacing, no pilots first.
    pacing = page.locator(".strategist-knobs .equitysim-slider", has_text="Pacing")
    _slider_right(page, pacing, 4)
    page.wait_for_function("() => document.querySelector('.strategist-knobs').innerText.includes('Pacing 0.70')")
    page.get_by_text("Pilot first (programs start as pilots)").click()
    _fill(page, ".plan-name", "browser_plan")

    # Run: the plan's futures beside the base's, with a progress bar while they run.
    t = time.perf_counter()
    run.click()
    page.locator(".strategist-progress").wait_for(state="attached")
    result = page.locator(".strategist-result")
    result.wait_for(timeout=180_000)
    seconds = time.perf_counter() - t
    head = page.locator(".result-head h3")
    assert head.inner_text().startswith("8 futures of browser_plan against roadmap (seed 1, world scale 0.05)")
    rows = page.locator(".paired-table tbody tr")
    assert rows.count() == 12
    shown = {r.get_attribute("data-indicator"): float(r.get_attribute("data-p-plan")) for r in rows.all()}
    risks = {r.get_attribute("data-risk"): float(r.get_attribute("data-plan"))
             for r in page.locator(".risk-table tbody tr").all()}
    assert len(risks) == 6
    levels = page.locator(".cost-table tbody tr[data-level]")
    assert levels.count() == 4 and "federal" in levels.first.inner_text()
    said = page.locator(".strategist-sentences").inner_text().strip().split("\n")
    said = [x for x in said if x.strip()]
    assert 2 <= len(said) <= 3 and any("the roadmap as written" in x for x in said), said
    img = page.locator(".strategist-chart img")
    img.wait_for()
    page.wait_for_function("() => document.querySelector('.strategist-chart img').naturalWidth > 600")
    page_json = json.loads(page.locator(".strategist-json").text_content())

    # Save as scenario: a file `equitysim validate` accepts and `equitysim run` reproduces.
    with page.expect_download() as info:
        page.get_by_role("button", name="Save as scenario").click()
    download = info.value
    assert download.suggested_filename == "browser_plan.toml"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text()
    assert "equitysim run browser_plan.toml -n 8 --seed 1" in text and "pilot_first = false" in text
    assert ('[[sequence]]\ngroup = "state_funding_bills"\nstart_year = 1.0\nend_year = 4.0\nwhere = "favorable"\n'
            'intensity = 1.5\n') in text, text
    ok = subprocess.run([sys.executable, "-m", "equitysim", "validate", str(saved)], capture_output=True, text=True)
    assert ok.returncode == 0 and "ok (browser_plan" in ok.stdout, ok.stderr
    # the page draws each future's parameters from the shipped posterior, as `run` does by default
    again = subprocess.run([sys.executable, "-m", "equitysim", "run", str(saved), "-n", "8", "--seed", "1", "--json"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    cli = json.loads(again.stdout)
    assert cli["parameters"] == "posterior"
    assert cli == page_json
    assert {i["id"]: i["p_met"] for i in cli["indicators"]} == pytest.approx(shown, abs=1e-6)
    assert {k.replace("_", " "): v for k, v in cli["risks"].items()} == pytest.approx(risks, abs=1e-6)

    body = page.inner_text("body")
    assert "Traceback" not in body and "run failed" not in body.lower()
    shot = tmp_path / "strategist.png"
    page.screenshot(path=str(shot))
    page.close()
    _not_blank(shot)
    _keep(shot, "strategist.png")
    print(f"strategist page: 8 futures at scale 0.05 answered in {seconds:.1f} s")


@pytest.fixture(scope="module")
def full_scale_server(tmp_path_factory):
    yield from _serve(tmp_path_factory, {"EQUITYSIM_STRATEGIST_FUTURES": "100", "EQUITYSIM_STRATEGIST_SCALE": "1.0"})


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip() if Path("/proc/loadavg").exists() else "n/a"


@pytest.mark.skipif(os.environ.get("EQUITYSIM_STRATEGIST_TIMING") != "1",
                    reason="times 100 full-scale futures (minutes): set EQUITYSIM_STRATEGIST_TIMING=1")
def test_strategist_page_timing(browser, full_scale_server):
    """From pressing Run to the answer on the page, 100 futures at full US scale on 2 workers:
    with the base's futures already run in the background (the page starts them once the
    settings stand still), and with a new seed pressed at once (the base's 100 futures first)."""
    url, _ = full_scale_server
    page = browser.new_page(viewport={"width": 1500, "height": 1300})
    page.set_default_timeout(600_000)
    page.goto(url + "strategist")
    page.locator(".strategist-timeline").wait_for()
    page.wait_for_function("() => document.querySelector('.base-status').innerText.includes('are ready')")
    page.get_by_role("button", name="state_funding_bills", exact=True).click()
    _fill(page, ".start-year", "1")
    timings = {}
    for label, seed in (("base already run", None), ("base run first (new seed)", "2")):
        if seed is not None:
            _fill(page, ".seed", seed)
        before = _loadavg()
        t = time.perf_counter()
        page.get_by_role("button", name="Run", exact=True).click()
        page.wait_for_function(
            "(s) => { const h = document.querySelector('.result-head h3'); return h && h.dataset.seed === s; }",
            arg=seed or "1")
        timings[label] = (time.perf_counter() - t, before)
        assert page.locator(".paired-table tbody tr").count() == 12
    page.close()
    for label, (sec, load) in timings.items():
        print(f"100 futures at full scale, 2 workers, {label}: {sec:.1f} s from Run to the answer (loadavg before: {load})")
