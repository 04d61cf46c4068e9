"""The command line's progress bar: rich on a terminal (done of total, rate this session, ETA),
silent elsewhere (pipes, CI, --json)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager


class ProgressBar:
    """`start(total, before)` once the total is known (`before`: done in an earlier session, shown
    as done but left out of the rate), `advance(n)` as work finishes, `stop()` at the end."""

    def __init__(self, label: str, enabled: bool = True, unit: str = "runs"):
        self.label, self.unit = label, unit
        self.enabled = enabled and sys.stderr.isatty()
        self.prog = self.task = None
        self.done_now = 0

    def start(self, total: int, before: int = 0):
        if not self.enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.prog = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                             console=Console(stderr=True), transient=True)
        self.task = self.prog.add_task(self.label, total=total, completed=before, rate="")
        self.prog.start()
        self._started = time.perf_counter()

    def advance(self, n: int):
        if self.prog is None:
            return
        self.done_now += n
        self.prog.advance(self.task, n)
        elapsed = time.perf_counter() - self._started
        if elapsed > 0:
            self.prog.update(self.task, rate=f"{self.done_now / elapsed:.2f} {self.unit}/s")

    def stop(self):
        if self.prog is not None:
            self.prog.stop()


@contextmanager
def progress_bar(total: int, label: str, unit: str = "runs"):
    """Yield `advance(n)` of a ProgressBar started with `total`."""
    bar = ProgressBar(label, unit=unit)
    bar.start(total)
    try:
        yield bar.advance
    finally:
        bar.stop()
