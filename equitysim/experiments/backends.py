"""Where chunks run: joblib's loky on this machine, a dask cluster or ray. Each backend takes a
function of one task (picklable by reference, so workers import it) and an iterator of tasks,
and yields results as they finish, with at most about two tasks per worker in flight.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

from .spec import ExperimentError

BACKENDS = ("loky", "dask", "ray")


def check_backend(backend: str, address: str | None = None) -> None:
    """Raise ExperimentError (one line) unless `backend` can run here with `address`."""
    if backend not in BACKENDS:
        raise ExperimentError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "loky" and address:
        raise ExperimentError("--address: expected --backend dask or ray with it (loky runs on this machine)")
    if backend == "dask":
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise ExperimentError("--backend dask: expected dask[distributed] to be installed "
                                  "(pip install 'equitysim[dask]')") from None
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise ExperimentError("--backend ray: expected ray to be installed (pip install 'equitysim[ray]')") from None


def execute(work: Callable[[dict], tuple], tasks: Iterator[dict], backend: str, jobs: int,
            address: str | None) -> Iterator[tuple]:
    """Run `work` on each task and yield the results as they finish (in any order). At most about two
    tasks per worker are in flight, so memory stays bounded by a few chunks."""
    check_backend(backend, address)
    if backend == "loky":
        if jobs == 1:
            yield from map(work, tasks)
            return
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered", batch_size=1,
                       pre_dispatch="2 * n_jobs")
        yield from par(delayed(work)(t) for t in tasks)
    elif backend == "dask":
        yield from _execute_dask(work, tasks, jobs, address)
    else:
        yield from _execute_ray(work, tasks, jobs, address)


def _execute_dask(work, tasks, jobs, address):
    import logging

    from dask.distributed import Client, LocalCluster, as_completed

    cluster = None
    if address:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError, ValueError) as e:
            raise ExperimentError(f"--address: expected a reachable dask scheduler, got {address!r} "
                                  f"({e.__class__.__name__})") from None
    else:
        # one single-threaded worker process per job, on the loopback interface only
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        workers = len(client.scheduler_info().get("workers", {})) or jobs
        window = 2 * workers
        pending = as_completed()
        for t in itertools.islice(tasks, window):
            pending.add(client.submit(work, t, pure=False))
        for fut in pending:
            res = fut.result()
            fut.release()
            yield res
            nxt = next(tasks, None)
            if nxt is not None:
                pending.add(client.submit(work, nxt, pure=False))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _execute_ray(work, tasks, jobs, address):
    import ray

    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            # a local ray on the loopback interface, one CPU per job
            ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False,
                     _node_ip_address="127.0.0.1")
    try:
        remote = ray.remote(num_cpus=1)(work)
        window = 2 * max(1, int(ray.available_resources().get("CPU", jobs)))
        pending = [remote.remote(t) for t in itertools.islice(tasks, window)]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
            nxt = next(tasks, None)
            if nxt is not None:
                pending.append(remote.remote(nxt))
    finally:
        if started:
            ray.shutdown()

