"""The results directory of a sweep: the manifest (`experiment.json`), one Parquet file per
finished chunk (`runs/`, and `trajectories/` if kept), the lock that keeps a second sweep out,
the identity check that lets a sweep resume, and reading the runs back.

Every file is written to a hidden temporary name, flushed to disk and renamed, so a reader never
sees half a file; a chunk is done when its `runs/` file exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from collections.abc import Callable
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .spec import ExperimentError

if TYPE_CHECKING:
    from .spec import Experiment

FORMAT = 1
MANIFEST = "experiment.json"
LOCK = ".lock"
_CHUNK_RE = re.compile(r"^chunk-(\d+)\.parquet$")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write to a hidden temporary file beside `path`, flush it to disk, then rename it over `path`:
    a reader (or a resume after kill -9) sees the whole file or none of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class ResultStore:
    """A results directory: `experiment.json`, `runs/` and optionally `trajectories/`."""

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self.manifest_path = self.out / MANIFEST
        self.runs_dir = self.out / "runs"
        self.traj_dir = self.out / "trajectories"

    def chunk_path(self, c: int, kind: str = "runs") -> Path:
        return (self.runs_dir if kind == "runs" else self.traj_dir) / f"chunk-{c:06d}.parquet"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def manifest(self) -> dict:
        try:
            m = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            raise ExperimentError(f"{self.out}: {MANIFEST}: expected a results directory made by "
                                  f"`equitysim sweep` (no {MANIFEST})") from None
        except (OSError, ValueError) as e:
            raise ExperimentError(f"{self.manifest_path}: (file): expected the JSON manifest `equitysim sweep` "
                                  f"writes ({e.__class__.__name__})") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT or "identity" not in m:
            raise ExperimentError(f"{self.manifest_path}: format: expected an equitysim results manifest "
                                  f"of format {FORMAT}")
        return m

    def write_manifest(self, m: dict) -> None:
        atomic_write(self.manifest_path, lambda p: p.write_text(json.dumps(m, indent=2) + "\n"))

    def done_chunks(self) -> set[int]:
        if not self.runs_dir.is_dir():
            return set()
        return {int(m.group(1)) for f in os.listdir(self.runs_dir) if (m := _CHUNK_RE.match(f))}

    def chunk_files(self, kind: str = "runs") -> list[Path]:
        return [self.chunk_path(c, kind) for c in sorted(self.done_chunks())]

    @contextmanager
    def lock(self):
        """Hold `.lock` in the directory while a sweep writes there: a second sweep into the same
        directory is refused. The operating system releases it when the process ends, even by kill -9."""
        import fcntl

        fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ExperimentError(f"{self.out}: --out: expected no other sweep writing to this directory "
                                      f"(another one holds {LOCK})") from None
            yield
        finally:
            os.close(fd)

    def foreign_files(self) -> list[Path]:
        """Files in the directory that a sweep did not put there."""
        return [f for f in self.out.iterdir() if f.name != LOCK and not (f.name.startswith(".") and f.name.endswith(".tmp"))]

    def remove_temporaries(self) -> int:
        """Delete temporary files a killed sweep left behind (never a finished chunk)."""
        n = 0
        for d in (self.out, self.runs_dir, self.traj_dir):
            if d.is_dir():
                for f in d.iterdir():
                    if f.name.startswith(".") and f.name.endswith(".tmp"):
                        f.unlink(missing_ok=True)
                        n += 1
        return n

    def write_chunk(self, c: int, runs: pd.DataFrame, traj: pd.DataFrame | None) -> None:
        # trajectories first: the runs file is the chunk's commit mark
        if traj is not None:
            self.traj_dir.mkdir(exist_ok=True)
            t = pa.Table.from_pandas(traj, preserve_index=False)
            atomic_write(self.chunk_path(c, "trajectories"), lambda p: pq.write_table(t, p))
        r = pa.Table.from_pandas(runs, preserve_index=False)
        atomic_write(self.chunk_path(c), lambda p: pq.write_table(r, p))


def package_versions() -> dict:
    """Python's and the packages' versions, for the manifest (those installed)."""
    out = {"python": platform.python_version()}
    for pkg in ("equitysim", "mesa", "numpy", "pandas", "pyarrow", "SALib", "joblib", "dask", "distributed", "ray"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _first_difference(a, b, path: str = "") -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k) != b.get(k):
                return _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path or '(top level)'} is {json.dumps(a)[:60]} on disk, {json.dumps(b)[:60]} now"


def check_same(exp: Experiment, m: dict, out: Path) -> None:
    """Raise ExperimentError (one line, naming the first difference) unless the manifest `m` in
    `out` was written by this same experiment."""
    new = exp.identity()
    old = m["identity"]
    if hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest() == exp.identity_hash():
        return
    if old.get("experiment") != new["experiment"]:
        what = _first_difference(old.get("experiment"), new["experiment"])
    elif old.get("scenarios") != new["scenarios"]:
        names = [s.get("name") for s in old.get("scenarios", [])]
        if names != exp.names:
            what = f"scenarios are {', '.join(map(str, names))} on disk, {', '.join(exp.names)} now"
        else:
            bad = next(s["name"] for s, t in zip(old["scenarios"], new["scenarios"]) if s != t)
            what = f"scenario '{bad}' differs from the one on disk (was its file edited?)"
    else:
        what = "the design's parameter values differ (SALib or numpy version changed?)"
    raise ExperimentError(f"{out}: --resume: expected the experiment that made this directory "
                          f"('{m['identity']['experiment'].get('name')}'), but {what}")


# ---------------------------------------------------------------------------------------- reading

def read_runs(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Every finished run in `out`, one row each, sorted by (scenario in experiment order, point,
    replication). Only finished chunks are read (never a temporary file)."""
    return _read(out, "runs", columns)


def read_trajectories(out: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Yearly metric trajectories (if the experiment kept them), sorted like `read_runs` then by year."""
    return _read(out, "trajectories", columns)


def _read(out, kind, columns):
    store = ResultStore(out)
    m = store.manifest()
    files = [f for f in store.chunk_files(kind) if f.exists()]
    if kind == "trajectories" and not files and not m["identity"]["experiment"]["outputs"]["trajectories"]:
        raise ExperimentError(f"{store.out}: outputs.trajectories: expected an experiment that kept "
                              f"trajectories (set [outputs] trajectories = true)")
    keys = ["scenario", "point", "replication"] + (["year"] if kind == "trajectories" else [])
    if columns is not None:
        columns = list(dict.fromkeys(keys + list(columns)))
    if not files:
        return pd.DataFrame(columns=columns or keys)
    import pyarrow.dataset as ds

    df = ds.dataset([str(f) for f in files], format="parquet").to_table(columns=columns).to_pandas()
    order = {n: i for i, n in enumerate(m["scenarios"])}
    df = df.assign(_o=df["scenario"].map(order)).sort_values(["_o"] + keys[1:], kind="stable")
    return df.drop(columns="_o").reset_index(drop=True)


def status(out: str | Path) -> dict:
    """How far a results directory is: runs and chunks on disk of the total."""
    store = ResultStore(out)
    m = store.manifest()
    done = store.done_chunks()
    size, total = m["chunk_size"], m["runs"]
    runs = sum(max(0, min(size, total - c * size)) for c in done)
    return {"name": m["name"], "runs": runs, "runs_total": total, "chunks": len(done),
            "chunks_total": m["chunks"], "complete": len(done) == m["chunks"]}
