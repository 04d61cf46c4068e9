"""Sweeps on clusters: a dask cluster that loses a worker in the middle of a sweep, and a local ray
started and shut down by the backend itself. Each gives exactly the dataset of an uninterrupted
loky sweep: no run lost, none run into the store twice.

In CI (CI=true) a missing dask or ray fails these tests instead of skipping them.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import threading
import time
from collections import Counter

import psutil
import pytest
from pandas.testing import assert_frame_equal

from equitysim import experiments as E
from equitysim.experiments.store import ResultStore

from .conftest import IN_CI, SCENARIOS

# 2 scenarios x 2 design points x 3 replications = 12 runs, one per chunk, on worlds a twentieth
# of the US: enough chunks that a worker can die with some written and most still to run
TWELVE = f"""
name = "twelve"
scenarios = ["roadmap", "no_action"]
scenarios_dir = "{SCENARIOS}"
replications = 3
seed = 11
scale = 0.05
chunk_size = 1
[design]
method = "lhs"
samples = 2
parameters = ["backlash_rate", "coalition_growth"]
[outputs]
trajectories = true
"""
N_CHUNKS = 12
SWEEP_TIMEOUT = 150  # seconds; a sweep that hangs after losing a worker fails instead


def need(module: str):
    """Import `module`, or skip the test; in CI, fail it (what CI installs it must test)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if IN_CI:
            pytest.fail(f"{module} must be installed in CI (the test extra installs it): {e}")
        pytest.skip(f"{module} not installed")


@pytest.fixture(scope="module")
def twelve(tmp_path_factory):
    """The experiment file and its uninterrupted sweep on 2 loky workers."""
    d = tmp_path_factory.mktemp("twelve")
    f = d / "twelve.toml"
    f.write_text(TWELVE)
    report = E.sweep(f, d / "loky", jobs=2)
    assert report.chunks_done == N_CHUNKS
    return f, d / "loky"


def same_dataset(out, ref):
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(p.name for p in (ref / "runs").iterdir())
    assert_frame_equal(E.read_runs(out), E.read_runs(ref))
    assert_frame_equal(E.read_trajectories(out), E.read_trajectories(ref))
    assert_frame_equal(E.summarize(out), E.summarize(ref))
    assert_frame_equal(E.compare(out, "roadmap"), E.compare(ref, "roadmap"))
    st = E.status(out)
    assert st["complete"] and st["chunks"] == N_CHUNKS and st["runs"] == N_CHUNKS


def gone(procs: list[psutil.Process], timeout: float = 20) -> list[str]:
    """Wait for `procs` to exit; the command lines of those still alive after `timeout` seconds."""
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    out = []
    for p in alive:
        try:
            out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
        except psutil.Error:
            pass
    return out


def count_writes(monkeypatch) -> Counter:
    """Count the driver's writes of each chunk into the store."""
    writes: Counter = Counter()
    real = ResultStore.write_chunk

    def counting(self, c, runs, traj):
        writes[c] += 1
        return real(self, c, runs, traj)

    monkeypatch.setattr(ResultStore, "write_chunk", counting)
    return writes


def test_dask_sweep_survives_a_worker_killed_mid_sweep(twelve, tmp_path, monkeypatch):
    distributed = need("dask.distributed")
    f, ref = twelve
    out = tmp_path / "dask"
    writes = count_writes(monkeypatch)
    killed: dict = {}
    result: dict = {}
    before = {p.pid for p in psutil.Process().children(recursive=True)}  # e.g. loky's reusable pool

    with distributed.LocalCluster(n_workers=3, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(3, timeout=60)
        pids = client.run(os.getpid)  # worker address -> pid of its process
        assert len(set(pids.values())) == 3

        def kill_a_busy_worker(n_runs):
            """After the first chunk is written: SIGKILL a worker that is running a chunk."""
            if killed:
                return
            for _ in range(200):  # a few seconds at most: find a worker with a chunk in progress
                busy = [w for w, keys in client.processing().items() if keys and w in pids]
                if busy:
                    break
                time.sleep(0.02)
            assert busy, "no worker had a chunk in progress after the first chunk was written"
            w = busy[0]
            killed.update(address=w, pid=pids[w], written=sum(writes.values()))
            os.kill(pids[w], signal.SIGKILL)

        def run():
            try:
                result["report"] = E.sweep(f, out, backend="dask", address=cluster.scheduler_address,
                                           progress=kill_a_busy_worker)
            except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
                result["error"] = e

        t0 = time.perf_counter()
        th = threading.Thread(target=run, daemon=True)
        th.start()
        th.join(SWEEP_TIMEOUT)
        assert not th.is_alive(), f"the sweep did not finish within {SWEEP_TIMEOUT} s after losing a worker"
        seconds = time.perf_counter() - t0
        if "error" in result:
            raise result["error"]

        # the kill happened in the middle of the sweep and cost the cluster a chunk in flight
        assert killed, "no worker was killed"
        assert 1 <= killed["written"] < N_CHUNKS
        assert not psutil.pid_exists(killed["pid"]) or psutil.Process(killed["pid"]).status() == psutil.STATUS_ZOMBIE
        removed = [m for _, m in client.get_events("all")
                   if isinstance(m, dict) and m.get("action") == "remove-worker" and m.get("worker") == killed["address"]]
        assert removed, "the scheduler never saw the killed worker go"
        assert not removed[0]["expected"]
        lost = set(removed[0]["processing-tasks"]) | set(removed[0]["lost-computed-tasks"])
        assert lost, "the killed worker held no chunk: nothing was lost, so nothing was shown"
        children = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
        assert len(children) >= 3  # the nannies and their worker processes

    report = result["report"]
    assert report.chunks_done == N_CHUNKS and report.runs_done == N_CHUNKS
    assert writes == Counter(range(N_CHUNKS))  # every chunk written exactly once
    assert not list(out.glob("**/.*.tmp"))  # no temporaries left behind
    same_dataset(out, ref)
    assert not gone(children), "dask processes left running"
    assert seconds < SWEEP_TIMEOUT


def test_ray_backend_starts_and_stops_its_own_local_ray(twelve, tmp_path):
    ray = need("ray")
    f, ref = twelve
    assert not ray.is_initialized()
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    seen: list[psutil.Process] = []
    names: set[str] = set()
    listening: set[str] = set()

    def note_children(n_runs):
        """While the sweep runs: the processes the backend started and where they listen."""
        for p in psutil.Process().children(recursive=True):
            if p.pid not in before:
                seen.append(p)
                try:
                    names.add(p.name())
                    listening.update(c.laddr.ip for c in p.net_connections(kind="inet")
                                     if c.status == psutil.CONN_LISTEN)
                except psutil.Error:
                    pass

    report = E.sweep(f, tmp_path / "ray", jobs=2, backend="ray", progress=note_children)
    assert report.chunks_done == N_CHUNKS
    assert not ray.is_initialized()  # the backend shut down the ray it started
    assert {"raylet", "gcs_server"} <= names, f"no local ray was started (saw {sorted(names)})"
    assert listening, "no ray process was seen listening"
    assert listening <= {"127.0.0.1", "::ffff:127.0.0.1", "::1"}, f"ray listens beyond loopback: {listening}"
    same_dataset(tmp_path / "ray", ref)
    assert not gone(list({p.pid: p for p in seen}.values())), "ray processes left running"



def test_dask_sweep_uses_workers_that_join_after_it_started(twelve, tmp_path):
    """A batch queue grants worker jobs one by one: the sweep starts on one worker and keeps two
    chunks per worker in flight as more arrive."""
    distributed = need("dask.distributed")
    f, ref = twelve
    seen: dict = {"after": 0}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(1, timeout=60)

        def grow(n_runs):
            if "scaled" not in seen:
                seen["scaled"] = True
                cluster.scale(3)
                client.wait_for_workers(3, timeout=60)
                return
            seen["after"] = max(seen["after"], len(cluster.scheduler.tasks))  # chunks submitted, not taken

        E.sweep(f, tmp_path / "grown", backend="dask", address=cluster.scheduler_address, progress=grow)
    assert seen["after"] > 2, f"at most {seen['after']} chunks in flight on 3 workers"
    same_dataset(tmp_path / "grown", ref)


def test_dask_gives_up_on_a_chunk_after_allowed_failures_and_resume_finishes(twelve, tmp_path):
    """With `allowed-failures` 0 a chunk whose worker dies is not rerun: the sweep stops with one
    line (ExperimentError), the chunks written stay, and `--resume` (here on loky) finishes them."""
    distributed = need("dask.distributed")
    import dask

    f, ref = twelve
    out = tmp_path / "gave-up"
    killed: dict = {}
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                     dashboard_address=None, silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=60)
        pids = client.run(os.getpid)

        def kill_a_busy_worker(n_runs):
            if killed:
                return
            for _ in range(200):
                busy = [w for w, keys in client.processing().items() if keys and w in pids]
                if busy:
                    break
                time.sleep(0.02)
            assert busy
            killed["pid"] = pids[busy[0]]
            os.kill(killed["pid"], signal.SIGKILL)

        with pytest.raises(E.ExperimentError, match="lost with every worker.*--resume"):
            E.sweep(f, out, backend="dask", address=cluster.scheduler_address, progress=kill_a_busy_worker)
    assert killed
    assert 1 <= E.status(out)["chunks"] < N_CHUNKS
    E.sweep(f, out, jobs=1, resume=True)
    same_dataset(out, ref)
