"""Regenerate docs/validation.md: the no-action baseline against history, and face validity.

    .venv/bin/python scripts/validation.py                 # defaults used for the shipped page
    .venv/bin/python scripts/validation.py --jobs 2 --replications 40

Same as `equitysim validation --out docs/validation.md`.
"""

import sys

from equitysim.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--out" not in args:
        args += ["--out", "docs/validation.md"]
    sys.exit(main(["validation", *args]))
