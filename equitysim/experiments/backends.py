"""Where chunks run: joblib's loky on this machine, a dask cluster or ray. Each backend takes a
function of one task (picklable by reference, so workers import it) and an iterator of tasks,
and yields results as they finish, with at most about two tasks per worker in flight.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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
    tasks = iter(tasks)
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
    """Chunks as dask futures, at most two per worker in flight. A worker that dies (a killed
    process, a lost node, a batch job at the end of its walltime) loses the chunks it was running
    and the results it held; the scheduler reruns them on the other workers (a chunk is a pure
    function of its task), up to `distributed.scheduler.allowed-failures` deaths per chunk. Each
    future's result is taken once, by its key, so a rerun chunk is still yielded (and written) once."""
    from dask.distributed import Client, KilledWorker, LocalCluster, as_completed

    cluster = None
    if address:
        try:
            client = Client(address, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ExperimentError(f"--address: expected a reachable dask scheduler, got {address!r} "
                                  f"({e.__class__.__name__})") from None
    else:
        # one single-threaded worker process per job, on the loopback interface only
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster, set_as_default=False)
    try:
        # our client's own event loop, not the default client's: a caller may have a client of
        # its own (to the same cluster), on another loop
        pending = as_completed(loop=client.loop)
        in_flight = {}  # future key -> future, until its result has been taken

        def top_up():
            # two chunks per worker thread there is now: workers may still be arriving (a batch
            # queue granting jobs one by one) or may have gone
            want = 2 * max(1, sum(client.nthreads().values()))
            while len(in_flight) < want:
                task = next(tasks, None)
                if task is None:
                    return
                fut = client.submit(work, task, pure=False)
                in_flight[fut.key] = fut
                pending.add(fut)

        top_up()
        for fut in pending:
            if in_flight.pop(fut.key, None) is None:
                continue  # already taken: never yield a chunk twice
            try:
                res = fut.result()  # waits while a result lost with its worker is recomputed
            except KilledWorker as e:
                raise ExperimentError(
                    f"--backend dask: a chunk was lost with every worker that ran it ({e}); the chunks "
                    f"already written are kept: fix the workers and rerun with --resume") from None
            fut.release()
            yield res
            top_up()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# a local ray's shared-memory object store: chunk results are small tables, and ray spills to disk
RAY_OBJECT_STORE_BYTES = 256 * 1024**2
_RAY_SINGLE_NODE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextmanager
def _ray_on_loopback():
    """While ray starts or connects: make it use the loopback interface. On Linux ray replaces a
    node address of 127.0.0.1 by the machine's outward address (and listens there) unless it runs
    as a single-node ray, its mode on macOS and Windows, which this switches on (ray's own processes
    inherit the setting); restored afterwards."""
    from ray._private import ray_constants

    env, const = os.environ.get(_RAY_SINGLE_NODE), getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[_RAY_SINGLE_NODE] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if env is None:
            os.environ.pop(_RAY_SINGLE_NODE, None)
        else:
            os.environ[_RAY_SINGLE_NODE] = env
        if const is not None:
            ray_constants.ENABLE_RAY_CLUSTER = const


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
    return host in ("127.0.0.1", "localhost", "::1")


def start_local_ray(cpus: int) -> None:
    """Start the local ray that `--backend ray` without `--address` runs on: `cpus` CPUs, listening
    on 127.0.0.1 only, token authentication (ray keeps its token in ~/.ray/auth_token), no
    dashboard, a small object store, usage statistics off, and always a new ray of its own
    (`address="local"`), even where a `ray start` cluster is running."""
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # ray turns token authentication on for a new local ray, with a warning saying so on every start
    said = logging.getLogger("ray._private.authentication.authentication_token_setup")
    level = said.level
    said.setLevel(logging.ERROR)
    try:
        with _ray_on_loopback():
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, object_store_memory=RAY_OBJECT_STORE_BYTES,
                     _node_ip_address="127.0.0.1")
    finally:
        said.setLevel(level)


def _execute_ray(work, tasks, jobs, address):
    """Chunks as ray tasks, at most two per CPU in flight. With no `address` and no ray running in
    this process, a local ray is started (`start_local_ray`) and shut down at the end; with
    `address`, the driver joins that cluster (`head:6379`; the driver must run on a node of that
    cluster, one that ran `ray start`). A task whose worker process or node dies is retried by ray
    (`max_retries`, default 3), so the chunk is still yielded once."""
    import ray

    started = not ray.is_initialized()
    if started:
        if address and _is_loopback(address):
            with _ray_on_loopback():
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        elif address:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        else:
            start_local_ray(jobs)
    pending = []
    try:
        remote = ray.remote(num_cpus=1)(work)

        def top_up():
            # two chunks per CPU the cluster has now (an autoscaling cluster grows and shrinks)
            want = 2 * max(1, int(ray.cluster_resources().get("CPU", jobs)))
            while len(pending) < want:
                task = next(tasks, None)
                if task is None:
                    return
                pending.append(remote.remote(task))

        top_up()
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                res = ray.get(done[0])
            except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
                raise ExperimentError(
                    f"--backend ray: a chunk was lost with the workers that ran it ({e.__class__.__name__}); "
                    f"the chunks already written are kept: rerun with --resume") from None
            yield res
            top_up()
    finally:
        for ref in pending:  # stopped early (an error, or the caller closed us): drop the rest
            try:
                ray.cancel(ref)
            except Exception:  # pragma: no cover - already finished or gone
                pass
        if started:
            ray.shutdown()
