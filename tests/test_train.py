from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tgram.config import ConfigError
from tgram.data.formats import read_results, write_results
from tgram.data.sources import load_sequences
from tgram.inference import Detector, track_video
from tgram.model.weights import load_weights
from tgram.synth import SynthConfig, generate_archive
from tgram.track.tracker import TrackerConfig
from tgram.train import (
    OptimConfig,
    TrainConfig,
    build_datasets,
    export_weights,
    fit,
    learning_rate,
    load_train_config,
)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    generate_archive(out, SynthConfig(width=192, height=128, frames=6, videos=3, seed=3), workers=1)
    return out


def tiny_config(archive: Path, storage: Path, epochs: int = 1) -> TrainConfig:
    """The shipped training config, shrunk to seconds on a CPU."""
    cfg = load_train_config(Path(__file__).parents[1] / "configs" / "train" / "synth.yaml")
    return replace(
        cfg,
        data=replace(cfg.data, path=str(archive), val_path=None, input_size=(64, 64)),
        model=replace(cfg.model, decoder_channels=16, head_channels=16, emb_dim=16, max_objects=32),
        optim=replace(cfg.optim, epochs=epochs, batch_size=2, steps_per_epoch=2, warmup_steps=1),
        loader_workers=0,
        val_images=2,
        storage_path=str(storage),
    )


def test_sequences_have_dense_global_ids(archive: Path) -> None:
    sequences = load_sequences("archive", str(archive), ("airplane", "ship", "vehicle"))
    assert len(sequences) == 3 and all(s.num_frames == 6 for s in sequences)
    ids = np.unique(np.concatenate([a.ids for s in sequences for a in s.annotations]))
    assert ids[0] == 0 and ids[-1] == len(ids) - 1
    per_video = [set(np.concatenate([a.ids for a in s.annotations]).tolist()) for s in sequences]
    assert not per_video[0] & per_video[1]  # identities never shared across videos
    frame = sequences[0].load_frame(2)
    assert frame.shape == (128, 192, 3) and frame.dtype == np.uint8


def test_several_archives_train_as_one_with_separate_identities(archive: Path) -> None:
    classes = ("airplane", "ship", "vehicle")
    one = load_sequences("archive", str(archive), classes)
    both = load_sequences("archive", (str(archive), str(archive)), classes)
    assert len(both) == 2 * len(one)
    ids = [
        np.unique(np.concatenate([a.ids for s in part for a in s.annotations]))
        for part in (both[:3], both[3:])
    ]
    assert not set(ids[0].tolist()) & set(ids[1].tolist())  # the same archive twice: new identities
    assert ids[1][0] == ids[0][-1] + 1 and ids[1][-1] == 2 * len(ids[0]) - 1  # still dense


def test_config_takes_a_list_of_training_archives(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: x\ndata:\n  path: [data/a, s3://b/c]\n")
    assert load_train_config(path).data.path == ("data/a", "s3://b/c")
    path.write_text("name: x\ndata:\n  path: [data/a, 3]\n")
    with pytest.raises(ConfigError, match=r"t.yaml:3: key 'data.path"):
        load_train_config(path)


def test_fit_checkpoints_resumes_and_exports(archive: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    first = fit(tiny_config(archive, tmp_path, epochs=1), device=torch.device("cpu"))
    run = tmp_path / "tgram_synth"
    assert [h["epoch"] for h in json.loads((run / "metrics.json").read_text())] == [1]
    resumed = fit(tiny_config(archive, tmp_path, epochs=2), device=torch.device("cpu"))
    assert [h["epoch"] for h in resumed.history] == [1, 2]  # epoch 1 restored, not redone
    assert resumed.history[0] == first.history[0]
    for key in ("loss/hm", "loss/giou", "loss/id", "val/map50", "samples_per_s"):
        assert np.isfinite(resumed.history[-1][key]), key
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    trained, averaged = state["train_state_dict"], state["state_dict"]
    assert not torch.equal(
        trained["heads.hm.0.weight"], averaged["heads.hm.0.weight"]
    )  # EMA exported
    weights = export_weights(resumed, str(run / "weights.pt"))
    model, cfg = load_weights(weights)
    assert cfg.emb_dim == 16 and resumed.model.num_ids > 1
    stored = torch.load(weights, weights_only=True)
    assert stored["num_ids"] == resumed.model.num_ids and not any(
        k.startswith("reid_loss.") for k in stored["state_dict"]
    )
    frames = torch.rand(1, 3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(
            model(frames)["hm"], resumed.model.eval()(frames)["hm"], atol=2e-2, rtol=0
        )


def test_tracking_writes_the_results_contract(archive: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    result = fit(tiny_config(archive, tmp_path, epochs=1), device=torch.device("cpu"))
    detector = Detector(result.model, device=torch.device("cpu"), score_threshold=0.0)
    video = str(archive / "videos" / "synth_0000.mp4")
    rows = track_video(
        video,
        detector,
        TrackerConfig(det_threshold=0.0, new_track_threshold=0.0, min_track_score=0.0),
        start=2,
        end=6,
    )
    assert len(rows) > 0 and set(np.unique(rows.frame)) <= {2, 3, 4, 5}
    write_results(tmp_path / "r.txt", rows.to_results())
    lines = (tmp_path / "r.txt").read_text().splitlines()
    fields = lines[0].split(",")
    assert (
        len(fields) == 10 and fields[7:] == ["-1", "-1", "-1"] and int(fields[0]) >= 3
    )  # 1-based frames
    back = read_results(tmp_path / "r.txt")
    assert np.allclose(back["x"] + back["w"], rows.boxes[:, 2], atol=0.01)


def test_an_epoch_has_steps_per_epoch_steps_whatever_the_data(
    archive: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(archive, tmp_path)
    for steps in (1, 7, 40):  # the archive has 18 frames: fewer and more samples than frames
        train, _ = build_datasets(replace(cfg, optim=replace(cfg.optim, steps_per_epoch=steps)))
        assert len(train) == steps * cfg.optim.batch_size
        assert train[len(train) - 1]["frames"].shape == (3, 3, 64, 64)


def test_learning_rate_warms_up_then_decays_to_the_final_ratio() -> None:
    optim = OptimConfig(lr=1e-3, warmup_steps=10, final_lr_ratio=0.1)
    rates = [learning_rate(optim, step, 100) for step in range(100)]
    assert rates[0] == pytest.approx(1e-4) and rates[9] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(rates[9:-1], rates[10:], strict=True))
    assert rates[-1] == pytest.approx(1e-4)


def test_training_reproduces_bit_for_bit(archive: Path, tmp_path: Path) -> None:
    """The weights card promises that its recipe reproduces the shipped weights exactly."""
    runs = [
        fit(tiny_config(archive, tmp_path / str(i)), device=torch.device("cpu")) for i in range(2)
    ]
    first, second = (r.model.state_dict() for r in runs)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    timeless = [
        [{k: v for k, v in h.items() if k != "samples_per_s"} for h in r.history] for r in runs
    ]
    assert timeless[0] == timeless[1]


def test_reid_labels_are_capped_per_crop(archive: Path, tmp_path: Path) -> None:
    cfg = tiny_config(archive, tmp_path)
    train, _ = build_datasets(replace(cfg, data=replace(cfg.data, reid_objects=1)))
    counts = [int((train[i]["ids"] >= 0).sum()) for i in range(len(train))]
    boxes = [int(train[i]["mask"].sum()) for i in range(len(train))]
    assert max(counts) == 1 and max(boxes) > 1  # every object still a detection target


def test_objects_that_do_not_show_are_ignored(archive: Path, tmp_path: Path) -> None:
    """`data.min_contrast`: a box that stands out of its surroundings by less counts as
    invisible: no positive, no box target, not scored in validation (here every box, with an
    unreachable threshold, against none without it)."""
    cfg = tiny_config(archive, tmp_path)
    plain, plain_val = build_datasets(cfg)
    every_class = replace(cfg.data, min_contrast=1e9, contrast_classes=cfg.model.classes)
    blind, blind_val = build_datasets(replace(cfg, data=every_class))
    assert sum(int(plain[i]["mask"].sum()) for i in range(len(plain))) > 0
    assert sum(int(blind[i]["mask"].sum()) for i in range(len(blind))) == 0
    assert all(float(blind[i]["hm"].max()) < 1.0 for i in range(len(blind)))
    assert sum(len(plain_val.ground_truth(i).boxes) for i in range(len(plain_val))) > 0
    assert sum(len(blind_val.ground_truth(i).boxes) for i in range(len(blind_val))) == 0
    with pytest.raises(ValueError, match="min_contrast"):
        replace(cfg.data, min_contrast=3.0, min_visibility=0.0)
    with pytest.raises(ValueError, match="data.contrast_classes: unknown class 'car'"):
        replace(cfg.data, contrast_classes=("car",))


def test_only_the_contrast_classes_are_judged(archive: Path, tmp_path: Path) -> None:
    """An airplane's box is mostly ground around its cross: `contrast_classes` (vehicles by
    default) keeps the other classes out of the rule."""
    cfg = tiny_config(archive, tmp_path)
    data = replace(cfg.data, min_contrast=1e9, contrast_classes=("airplane", "ship"))
    train, _ = build_datasets(replace(cfg, data=data))
    vehicle = cfg.model.classes.index("vehicle")
    seen = [train._crop(i) for i in range(len(train))]
    kept = np.concatenate([visible[classes == vehicle] for _, _, classes, _, visible in seen])
    dropped = np.concatenate([visible[classes != vehicle] for _, _, classes, _, visible in seen])
    assert len(kept) and (kept > 0).any() and len(dropped) and (dropped == 0).all()


def test_init_weights_starts_a_run_from_other_weights(archive: Path, tmp_path: Path) -> None:
    base = fit(tiny_config(archive, tmp_path / "a"), device=torch.device("cpu"))
    weights = export_weights(base, str(tmp_path / "base.pt"))
    cfg = tiny_config(archive, tmp_path / "b")
    cfg = replace(cfg, init_weights=weights, optim=replace(cfg.optim, lr=1e-12, ema_decay=0.0))
    tuned = fit(cfg, device=torch.device("cpu"))
    start = load_weights(weights)[0].state_dict()
    for name, value in tuned.model.state_dict().items():
        if name.startswith("reid_loss."):
            continue  # the identity classifier belongs to the data: it starts afresh
        if value.is_floating_point() and "running" not in name:  # BatchNorm statistics move
            torch.testing.assert_close(value, start[name], atol=2e-3, rtol=0, msg=name)

    narrower = replace(
        cfg, model=replace(cfg.model, head_channels=8), storage_path=str(tmp_path / "c")
    )
    with pytest.raises(ValueError, match=r"base\.pt: weights do not match the config"):
        fit(narrower, device=torch.device("cpu"))


def test_init_fresh_starts_named_modules_afresh_from_one_trunk(
    archive: Path, tmp_path: Path
) -> None:
    """The ablation's variants all start from one detector trunk: a windowed, ordered graph
    (other shapes than the trunk's) or none at all, and GAL whose steps are logged."""
    base = fit(tiny_config(archive, tmp_path / "a"), device=torch.device("cpu"))
    weights = export_weights(base, str(tmp_path / "base.pt"))
    cfg = tiny_config(archive, tmp_path / "b")
    windowed = replace(
        cfg,
        init_weights=weights,
        model=replace(cfg.model, graph_window=3, graph_ordered=True, adversarial=True),
    )
    with pytest.raises(ValueError, match=r"base\.pt: weights do not match the config"):
        fit(windowed, device=torch.device("cpu"))
    tuned = fit(replace(windowed, init_fresh=("graph",)), device=torch.device("cpu"))
    start = load_weights(weights)[0].state_dict()
    state = tuned.model.state_dict()
    assert state["graph.out.weight"].abs().max() < 0.01  # zero at the start, two small steps
    assert state["graph.gcn.0.weight"].shape[1] == 3 * start["graph.gcn.0.weight"].shape[0]
    steps = json.loads((tmp_path / "b" / "tgram_synth" / "steps.json").read_text())
    assert [s["step"] for s in steps] == [0, 1]
    assert {"adv", "adv_acc", "adv_cos", "adv_neg", "det", "id"} <= steps[0].keys()

    single = replace(
        cfg,
        init_weights=weights,
        init_fresh=("graph",),
        model=replace(cfg.model, frames=1, graph=False),
        storage_path=str(tmp_path / "c"),
    )
    assert fit(single, device=torch.device("cpu")).model.graph is None


def test_resume_with_other_settings_names_them_and_a_finished_run_stops(
    archive: Path, tmp_path: Path
) -> None:
    cfg = tiny_config(archive, tmp_path)
    fit(cfg, device=torch.device("cpu"))
    again = fit(cfg, device=torch.device("cpu"))
    assert again.trained_epochs == 0 and [h["epoch"] for h in again.history] == [1]
    other = replace(cfg, seed=cfg.seed + 1, optim=replace(cfg.optim, epochs=2, lr=1e-3))
    with pytest.raises(ConfigError, match=r"other settings \(optim.lr, seed\); use a new name"):
        fit(other, device=torch.device("cpu"))
    longer = fit(replace(cfg, optim=replace(cfg.optim, epochs=2)), device=torch.device("cpu"))
    assert longer.trained_epochs == 1  # training on for more epochs is a resume, not a change
    forced = fit(
        replace(other, optim=replace(other.optim, epochs=3)),
        device=torch.device("cpu"),
        resume_changed=True,
    )
    assert [h["epoch"] for h in forced.history] == [1, 2, 3]


def test_an_unknown_gt_class_in_an_archive_names_file_and_line(
    archive: Path, tmp_path: Path
) -> None:
    import shutil

    from tgram.data.formats import FormatError

    copy = tmp_path / "archive"
    shutil.copytree(archive, copy)
    gt = sorted((copy / "gt").glob("*.txt"))[0]
    lines = gt.read_text().splitlines()
    fields = lines[1].split(",")
    fields[7] = "9"
    lines[1] = ",".join(fields)
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(FormatError, match=f"{gt}:2: class id 9 is not a known class"):
        load_sequences("archive", str(copy), ("airplane", "ship", "vehicle"))


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).parents[1] / "configs" / "train").glob("*.yaml"))
    + [Path(__file__).parents[1] / "configs" / "ablation" / "train.yaml"],
    ids=lambda p: p.name,
)
def test_every_training_config_loads(path: Path) -> None:
    """The recipes the weights cards cite stay loadable as the config classes change."""
    cfg = load_train_config(path)
    assert cfg.name and cfg.optim.epochs >= 1
