"""The ablation runner and the GPU check, on a CPU: the paths they take with real runs, at toy
size (tests/bench/ablation.py, tests/bench/gpu_check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.bench import ablation, gpu_check


@pytest.mark.slow
def test_ablation_records_each_run_once_and_tables_them(tmp_path: Path) -> None:
    logged: list[str] = []
    records = ablation.dry_run(("fairmot", "tgram"), log=logged.append)  # raises if re-run
    assert [r["variant"] for r in records] == ["fairmot", "tgram"]
    full = records[1]
    assert full["budget"]["steps"] == 2 and full["commit"] and len(full["config_hash"]) == 16
    assert set(full["sets"]) == {"synth", "heldout"} and "history" in full
    assert {"adv_acc", "adv_cos", "adv_neg"} <= full["adversarial"].keys()
    assert "history" not in records[0] and not records[0]["adversarial"]  # T=1, no GAL
    text = ablation.table(records)
    assert "| fairmot | 1 |" in text and "| tgram | 1 |" in text
    readme = tmp_path / "README.md"
    readme.write_text(
        f"before\n{ablation.TABLE_MARKERS[0]}\nold\n{ablation.TABLE_MARKERS[1]}\nafter\n"
    )
    ablation.write_readme_table(text, readme)
    assert readme.read_text().startswith("before\n") and "old" not in readme.read_text()
    assert "| tgram | 1 |" in readme.read_text() and readme.read_text().endswith("after\n")


def test_config_hash_ignores_where_a_run_lives_but_not_what_it_learns() -> None:
    base = ablation.run_config("tgram", 0)
    moved = ablation.run_config("tgram", 0, storage_path="/elsewhere", loader_workers=0)
    assert ablation.config_hash(base) == ablation.config_hash(moved)
    assert ablation.config_hash(base) != ablation.config_hash(ablation.run_config("tgram", 1))
    assert base.model.graph_window == 3 and base.init_fresh == ("graph",)
    assert ablation.run_config("fairmot", 0).model.frames == 1


def test_gpu_check_measures_inference_and_refuses_a_real_run_without_cuda(tmp_path: Path) -> None:
    figures = gpu_check.inference_fps(dry_run=True)
    assert figures["fps 1088x608 fp32"] > 0 and figures["fps 1920x1080 fp32"] > 0
    if not torch.cuda.is_available():
        assert gpu_check.main(["--results", str(tmp_path / "r.jsonl")]) == 2
