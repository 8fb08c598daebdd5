"""Ray's floor under the batch job: a Ray Data pipeline of the job's shape that does no work.

Planning tasks (zero-CPU, `PLAN_TASKS` at once) feed a pool of actors that, like the model
actors, ask a zero-CPU associator actor once a task, in as many tasks as the job has packs,
under the job's Ray Data settings and with a runtime_env (the job always sets one, so its
workers are fresh processes). What it takes is what `tgram batch` cannot go below on this Ray
and these cores, whatever tgram does: on two cores most of it is worker processes starting and
importing Ray Data. Workers import this module to unpickle its classes, so it imports nothing
of tgram's at module level (tgram.pipeline.batch brings torch).
"""

from __future__ import annotations

import time

import numpy as np
import ray


class _Idle:
    """The floor's model actor: asks its associator once a task, like ClipTracker."""

    def __init__(self, associator: ray.actor.ActorHandle) -> None:
        self.associator = associator

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ray.get(self.associator.add.remote())
        return batch


class _IdleAssociator:
    def add(self) -> None:
        pass


def _plan(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return batch


def ray_floor(tasks: int) -> float:
    """Seconds the job's pipeline shape takes to run `tasks` empty actor tasks on the connected
    Ray, with the actors `tgram batch` would start there by default."""
    from tgram.pipeline.batch import PLAN_TASKS, BatchConfig, fit_to_cluster, job_data_context

    cfg = fit_to_cluster(BatchConfig(), ray.cluster_resources())
    runtime_env = {"env_vars": {"TGRAM_RAY_FLOOR": "1"}}
    t0 = time.perf_counter()
    with job_data_context():
        associator = (
            ray.remote(_IdleAssociator).options(num_cpus=0, runtime_env=runtime_env).remote()
        )
        ds = ray.data.from_items(
            [{"task": i} for i in range(tasks)], override_num_blocks=min(tasks, 2 * cfg.actors)
        ).map_batches(
            _plan,
            batch_size=None,
            num_cpus=0,
            compute=ray.data.TaskPoolStrategy(size=PLAN_TASKS),
            runtime_env=runtime_env,
        )
        ds = ds.map_batches(
            _Idle,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=cfg.actors, max_tasks_in_flight_per_actor=1),
            fn_constructor_kwargs={"associator": associator},
            num_cpus=cfg.cpus_per_actor,
            runtime_env=runtime_env,
        )
        rows = sum(1 for _ in ds.iter_rows())
        ray.kill(associator)
    if rows != tasks:
        raise RuntimeError(f"Ray's floor ran {rows} of {tasks} tasks")
    return time.perf_counter() - t0
