"""The rule that decides whether candidate weights replace the shipped ones (tests/bench/judge.py)."""

import pytest

from tests.bench.judge import Scores, judge, shipped_setting
from tgram.config import load_config
from tgram.resources import CONFIGS
from tgram.track.tracker import TrackerConfig

SHIPPED = (0.35, 0.44)
HIGHER = (0.35, 0.5)
RECALL = {"val_shift": 0.70, "val_alt": 0.62}
REFERENCE = Scores(
    {SHIPPED: {"val_v3": 0.54, "val_shift": 0.22}, HIGHER: {"val_v3": 0.55, "val_shift": 0.12}},
    RECALL,
)


def scores(shipped: tuple[float, float], higher: tuple[float, float], recall=RECALL) -> Scores:
    return Scores(
        {
            SHIPPED: dict(zip(("val_v3", "val_shift"), shipped, strict=True)),
            HIGHER: dict(zip(("val_v3", "val_shift"), higher, strict=True)),
        },
        recall,
    )


def test_a_candidate_better_everywhere_passes_at_its_best_setting():
    verdict = judge(scores((0.56, 0.23), (0.56, 0.22)), REFERENCE, SHIPPED)
    assert verdict.passed and verdict.setting == SHIPPED and not verdict.reasons


def test_the_margin_over_the_reference_best_is_required():
    verdict = judge(scores((0.543, 0.22), (0.5, 0.1)), REFERENCE, SHIPPED)  # 0.3815 vs 0.38 + 0.003
    assert not verdict.passed and "does not beat" in verdict.reasons[0]


def test_a_setting_that_loses_an_archive_against_the_shipped_thresholds_is_not_admissible():
    # best mean at the higher filter, but val_shift falls 0.07 below the shipped configuration
    verdict = judge(scores((0.56, 0.215), (0.80, 0.15)), REFERENCE, SHIPPED)
    assert verdict.setting == SHIPPED and verdict.passed
    nothing = judge(scores((0.56, 0.10), (0.80, 0.15)), REFERENCE, SHIPPED)
    assert not nothing.passed and nothing.setting is None


def test_vehicle_recall_on_val_shift_must_hold():
    lower = {"val_shift": 0.59, "val_alt": 0.63}
    verdict = judge(scores((0.56, 0.23), (0.56, 0.22), lower), REFERENCE, SHIPPED)
    assert not verdict.passed and verdict.reasons[0].startswith("val_shift: vehicle centre recall")


def test_the_shipped_thresholds_lie_on_the_grid():
    base = load_config(CONFIGS / "track" / "default.yaml", TrackerConfig)
    assert shipped_setting(base) == (base.det_threshold, base.min_track_score)
    with pytest.raises(ValueError, match="new_track_threshold must be det_threshold"):
        shipped_setting(TrackerConfig(det_threshold=0.35, new_track_threshold=0.5))


def test_scores_survive_json():
    again = Scores.from_json(REFERENCE.to_json())
    assert again == REFERENCE
    assert judge(scores((0.56, 0.23), (0.56, 0.22)), again, SHIPPED).passed


def test_an_excluded_archive_leaves_the_objective_and_the_recall_condition():
    # worse on val_shift everywhere (objective and recall), better on val_v3
    candidate = scores((0.58, 0.1), (0.58, 0.05), {"val_shift": 0.5, "val_alt": 0.62})
    assert not judge(candidate, REFERENCE, SHIPPED).passed
    kept = candidate.without(["val_shift"])
    assert kept.vehicle_recall == {"val_alt": 0.62} and kept.mean(SHIPPED) == 0.58
    verdict = judge(kept, REFERENCE.without(["val_shift"]), SHIPPED)
    assert verdict.passed and verdict.setting == SHIPPED
