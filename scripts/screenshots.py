"""Regenerate the screenshots in docs/ with the exact commands their captions state.

    python scripts/screenshots.py            # docs/report.png, docs/app.png, docs/strategist.png

docs/report.png: it runs `equitysim report scenarios/roadmap.toml scenarios/funding_first.toml
-n 150 --seed 1 --jobs 2` (full scale), opens the page in Debian's chromium (driven by
playwright, no browser download) at 1200 x 1700 and saves the top of the page.
docs/app.png and docs/strategist.png: the browser tests' screenshots of the two pages, as the
tests leave them (`EQUITYSIM_SCREENSHOTS=DIR python -m pytest tests/test_browser.py -k "interactive_page or
compose_run"`; their states are in tests/test_browser.py and the captions).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["report", "scenarios/roadmap.toml", "scenarios/funding_first.toml", "-n", "150", "--seed", "1",
           "--jobs", "2"]
CHROMIUM = os.environ.get("EQUITYSIM_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> int:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        exe = Path(sys.executable).with_name("equitysim")
        subprocess.run([str(exe), *COMMAND, "--out", str(page_file)], cwd=ROOT, check=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 1700})
            page.goto(page_file.as_uri())
            page.wait_for_timeout(500)
            page.screenshot(path=str(ROOT / "docs" / "report.png"), full_page=False)
            browser.close()
    print("wrote docs/report.png from: equitysim " + " ".join(COMMAND))
    with tempfile.TemporaryDirectory() as shots:
        env = dict(os.environ, EQUITYSIM_SCREENSHOTS=shots)
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_browser.py",
                        "-k", "interactive_page or compose_run"], cwd=ROOT, env=env, check=True)
        for name in ("app.png", "strategist.png"):
            shutil.copy(Path(shots) / name, ROOT / "docs" / name)
            print(f"wrote docs/{name} from the browser test")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
