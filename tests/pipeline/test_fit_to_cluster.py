"""Batch defaults that fit the machine: actors 0 becomes one actor per GPU or per CPUs."""

from __future__ import annotations

import pytest

from tgram.pipeline.batch import BatchConfig, fit_to_cluster


@pytest.mark.parametrize(
    ("settings", "resources", "actors", "gpus_per_actor"),
    [
        ({}, {"CPU": 2.0}, 2, 0.0),  # a 2-core laptop: both cores, one actor each
        ({"cpus_per_actor": 2.0}, {"CPU": 16.0}, 8, 0.0),
        ({}, {"CPU": 32.0, "GPU": 4.0}, 4, 1.0),  # GPUs when there are any
        ({"gpus_per_actor": 0.5}, {"CPU": 32.0, "GPU": 4.0}, 8, 0.5),
        ({"cpus_per_actor": 8.0}, {"CPU": 16.0, "GPU": 4.0}, 2, 1.0),  # CPUs bind first
        ({}, {"CPU": 0.5}, 1, 0.0),  # never fewer than one
        ({"actors": 3}, {"CPU": 64.0, "GPU": 8.0}, 3, 0.0),  # an explicit count stays
    ],
)
def test_actors_zero_uses_what_the_cluster_has(
    settings: dict, resources: dict, actors: int, gpus_per_actor: float
) -> None:
    fitted = fit_to_cluster(BatchConfig(**settings), resources)
    assert (fitted.actors, fitted.gpus_per_actor) == (actors, gpus_per_actor)


def test_negative_actors_are_refused() -> None:
    with pytest.raises(ValueError, match="actors: expected >= 1, or 0"):
        BatchConfig(actors=-1)
