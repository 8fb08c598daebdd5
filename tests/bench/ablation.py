"""The ablation of TGraM's two claims at one fixed budget: FairMOT-style, +graph, +GAL, TGraM.

Each run fine-tunes one detector trunk with `configs/ablation/train.yaml` (the same data,
steps and schedule for every run; graph and discriminator start afresh) and the variant's
`configs/model/<variant>.yaml`, then is scored by bench_tracking's functions on its two sets
(the training style's test seed 7, the held-out style family): AP@0.5 per class, and MOTA,
IDF1, HOTA under IoU and centre matching, with `configs/track/default.yaml`. T=3 variants are
also run on a frozen history (bench_history, on the validation archive): how much the past
frames change detections of moving cars. Runs with GAL record the discriminator's accuracy,
the cosine between the tasks' gradients at object cells and the share of objects where they
point apart (means over the last quarter of the steps); `gal_probe` is GAL with the reversal
off (the discriminator learns, the network is left alone) and is not scored; `gal_strong` is
gal_only at 4x the reversal weight.

Resumable and incremental: each finished run appends one JSON line (variant, seed, config
hash, commit, budget, device, metrics) to RESULTS; a record with the same variant, seed and
config hash is not run again, and an interrupted run resumes from its checkpoint. `--table`
prints the table from RESULTS (mean +- sd over seeds); `--readme` also writes it into README.md.

    python -m tests.bench.ablation [--variants V ...] [--seeds S ...] [--results F]
    python -m tests.bench.ablation --table [--readme]
    python -m tests.bench.ablation --dry-run   # the whole path on a tiny archive, in a minute
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from tests.bench import bench_history
from tests.bench.bench_tracking import SETS, EvalSet, track_tgram
from tgram.config import load_config, to_dict
from tgram.data.formats import read_gt
from tgram.heldout import HeldoutConfig, generate_heldout_archive
from tgram.resources import CHECKOUT, CONFIGS
from tgram.synth import SynthConfig, generate_archive
from tgram.track.tracker import TrackerConfig
from tgram.train import WEIGHTS_FILE, TrainConfig, export_weights, fit, load_train_config

VARIANTS = ("fairmot", "graph_only", "gal_only", "tgram")
"""The table's rows, configs/model/<variant>.yaml."""
PROBES = ("gal_probe", "gal_strong")
"""Runs that measure GAL itself: the reversal off (the discriminator only; not scored on the
test sets) and the reversal at 4x the weight of gal_only (scored: what the stronger reversal
costs the tasks)."""
RESULTS = Path(__file__).parent / "results" / "ablation.jsonl"
TRAIN_CONFIG = CONFIGS / "ablation" / "train.yaml"
EVAL_CACHE = "eval"
"""Under the runs' storage path: the test archives, written once, reused by every run."""
HISTORY_FRAMES = 12
TAIL = 0.25
"""Share of the last steps whose adversarial values a record keeps (the reversal's ramp is
near its top there)."""
README = Path(__file__).parents[2] / "README.md"
TABLE_MARKERS = (
    "<!-- ablation table: python -m tests.bench.ablation --table --readme -->",
    "<!-- end of ablation table -->",
)
"""The README's table sits between these lines; `--table --readme` rewrites it from RESULTS."""
NOT_HASHED = ("name", "storage_path", "loader_workers")
"""Settings that do not change what a run learns."""


def run_config(variant: str, seed: int, base: Path = TRAIN_CONFIG, **overrides: Any) -> TrainConfig:
    """The ablation's TrainConfig for one variant and seed; `overrides` are dotted keys."""
    path = CONFIGS / "model" / f"{variant}.yaml"
    model = yaml.safe_load(path.read_text()) or {}
    settings = {f"model.{key}": value for key, value in model.items()}
    settings.update(seed=seed, **overrides)
    cfg = load_train_config(base, settings)
    # the hash in the name: a run of changed settings starts afresh instead of meeting the
    # old run's checkpoint (which refuses to resume with other settings)
    return replace(cfg, name=f"{variant}_s{seed}_{config_hash(cfg)[:8]}")


def config_hash(cfg: TrainConfig) -> str:
    """What a run learns from: its record's key with the variant and the seed."""
    return _hash(to_dict(cfg), NOT_HASHED)


def settings_hash(config: dict[str, Any]) -> str:
    """A record's settings without its seed: the runs that one table row pools."""
    return _hash(config, (*NOT_HASHED, "seed"))


def _hash(config: dict[str, Any], leave_out: tuple[str, ...]) -> str:
    data = {k: v for k, v in config.items() if k not in leave_out}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def read_results(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def commit() -> str:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=CHECKOUT, capture_output=True, text=True)
        return out.stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def eval_archives(root: Path, sets: tuple[EvalSet, ...]) -> dict[str, Path]:
    """Each set's archive under `root`, written the first time (same seed: same archive)."""
    archives = {}
    for eval_set in sets:
        archive = root / eval_set.key
        if not (archive / ".complete").is_file():
            eval_set.write(archive)
            (archive / ".complete").touch()
        archives[eval_set.key] = archive
    return archives


def adversarial_tail(steps: list[dict]) -> dict[str, float]:
    """Means of the GAL diagnostics over the last TAIL of the steps (empty without GAL)."""
    tail = steps[-max(1, round(len(steps) * TAIL)) :]
    keys = ("adv", "adv_acc", "adv_cos", "adv_neg")
    return {k: float(np.mean([s[k] for s in tail])) for k in keys if tail and k in tail[0]}


def score(weights: str, archive: Path, tracker: TrackerConfig) -> dict[str, Any]:
    gt = {path.stem: read_gt(path) for path in sorted((archive / "gt").glob("*.txt"))}
    scored, ap = track_tgram(weights, archive, gt, tracker)
    out: dict[str, Any] = dict(ap)
    for match, report in scored.reports.items():
        overall = report.overall
        out[match] = {"mota": overall.mota, "idf1": overall.idf1, "hota": overall.hota}
    return out


def run_one(
    cfg: TrainConfig,
    variant: str,
    archives: dict[str, Path],
    tracker: TrackerConfig,
    history_archive: Path | None,
) -> dict[str, Any]:
    """Train (or resume) one run, export it, score it: its results record."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    start = time.perf_counter()
    result = fit(cfg, device=device)
    train_s = time.perf_counter() - start
    run_dir = Path(cfg.storage_path) / cfg.name
    weights = export_weights(result, str(run_dir / WEIGHTS_FILE))
    steps = json.loads((run_dir / "steps.json").read_text())
    record: dict[str, Any] = {
        "variant": variant,
        "seed": cfg.seed,
        "config_hash": config_hash(cfg),
        "config": to_dict(cfg),
        "commit": commit(),
        "budget": {
            "steps": len(steps),
            "batch_size": cfg.optim.batch_size,
            "input_size": list(cfg.data.input_size),
        },
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "cpus": os.cpu_count(),
        "load_1m": round(os.getloadavg()[0], 2),
        "train_s": round(train_s, 1),
        "samples_per_s": float(np.mean([h["samples_per_s"] for h in result.history])),
        "adversarial": adversarial_tail(steps),
    }
    if cfg.model.adversarial and cfg.model.adversarial_max_lambda == 0.0:
        return record  # the reversal off leaves the network as FairMOT-style trains it
    start = time.perf_counter()
    record["sets"] = {key: score(weights, archive, tracker) for key, archive in archives.items()}
    if cfg.model.frames > 1 and history_archive is not None:
        record["history"] = bench_history.measure(weights, history_archive, HISTORY_FRAMES)
    record["eval_s"] = round(time.perf_counter() - start, 1)
    return record


def run(
    variants: tuple[str, ...],
    seeds: tuple[int, ...],
    results: Path = RESULTS,
    *,
    overrides: dict[str, Any] | None = None,
    sets: tuple[EvalSet, ...] = SETS,
    log: Callable[[str], None] = print,
    deadline: float | None = None,
) -> list[dict]:
    """Every (variant, seed) without a record in `results`, in seed-major order (a first
    seed of every variant before a second): the records appended this call. No run starts
    after `deadline` (a time.time() value); the rest wait for the next call."""
    overrides = overrides or {}
    done = {(r["variant"], r["seed"], r["config_hash"]) for r in read_results(results)}
    plans = [
        (variant, seed, run_config(variant, seed, **overrides))
        for seed in seeds
        for variant in variants
    ]
    todo = [(v, s, cfg) for v, s, cfg in plans if (v, s, config_hash(cfg)) not in done]
    log(f"ablation: {len(plans) - len(todo)} of {len(plans)} runs recorded in {results}")
    if not todo:
        return []
    storage = Path(todo[0][2].storage_path)
    archives = eval_archives(storage / EVAL_CACHE, sets)
    history = Path(todo[0][2].data.val_path) if todo[0][2].data.val_path else None
    tracker = load_config(CONFIGS / "track" / "default.yaml", TrackerConfig)
    added = []
    for variant, seed, cfg in todo:
        if deadline is not None and time.time() > deadline:
            log(f"ablation: deadline passed, {len(todo) - len(added)} runs left for the next call")
            break
        log(f"ablation: {variant} seed {seed} ({cfg.name})")
        record = run_one(cfg, variant, archives, tracker, history)
        results.parent.mkdir(parents=True, exist_ok=True)
        with results.open("a") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        log(f"ablation: {variant} seed {seed} recorded: {_summary(record)}")
        added.append(record)
    return added


# --- the table -------------------------------------------------------------------------------

COLUMNS = (
    ("mAP@0.5", ("map50",)),
    ("MOTA", ("center", "mota")),
    ("IDF1", ("center", "idf1")),
    ("HOTA", ("center", "hota")),
    ("IoU MOTA", ("iou", "mota")),
)
SET_NAMES = {"synth": "training style, seed 7", "heldout": "held-out family"}


def _get(record: dict, key: tuple[str, ...]) -> float:
    value: Any = record
    for part in key:
        value = value[part]
    return float(value)


def _cell(values: list[float]) -> str:
    if not values:
        return "-"
    sd = f" +- {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
    return f"{np.mean(values):.3f}{sd}"


def _difference(a: list[float], b: list[float]) -> str:
    """Difference of means +- its standard error (unknown with one seed a side); starred
    where it exceeds twice that error."""
    diff = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return f"{diff:+.3f} (1 seed)"
    se = float(np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b)))
    return f"{diff:+.3f} +- {se:.3f}{' *' if abs(diff) > 2 * se else ''}"


def _set_row(variant: str, rows: list[dict], key: str) -> str:
    cells = [_cell([_get(r["sets"][key], path) for r in rows]) for _, path in COLUMNS]
    return f"| {variant} | {len(rows)} | " + " | ".join(cells) + " |"


def table(records: list[dict]) -> str:
    """Markdown: per set, each variant's mean +- sd (over seeds) of every column; then the
    GAL diagnostics and the history deltas. A variant's row pools the records with the
    settings of its latest record (seeds aside); records without their config (older runs)
    are left out."""
    settings = {id(r): settings_hash(r["config"]) for r in records if "config" in r}
    latest = {r["variant"]: settings[id(r)] for r in records if id(r) in settings}
    pooled = {
        v: [r for r in records if r["variant"] == v and settings.get(id(r)) == h]
        for v, h in latest.items()
    }
    lines = []
    for key, name in SET_NAMES.items():
        lines += [
            f"| {name} | seeds | " + " | ".join(c for c, _ in COLUMNS) + " |",
            "|---|---|" + "---|" * len(COLUMNS),
        ]
        scored = {
            v: [r for r in pooled.get(v, []) if key in r.get("sets", {})]
            for v in (*VARIANTS, *PROBES)
        }
        lines += [_set_row(variant, scored[variant], key) for variant in VARIANTS]
        full, base = scored[VARIANTS[-1]], scored[VARIANTS[0]]
        if full and base:
            cells = [
                _difference(
                    [_get(r["sets"][key], path) for r in full],
                    [_get(r["sets"][key], path) for r in base],
                )
                for _, path in COLUMNS
            ]
            lines.append(f"| {VARIANTS[-1]} - {VARIANTS[0]} | | " + " | ".join(cells) + " |")
        lines += [_set_row(f"{p} (probe)", scored[p], key) for p in PROBES if scored[p]]
        lines.append("")
    lines += [
        "| GAL diagnostics, last quarter of the steps | seeds | discriminator accuracy | "
        "cosine(g_det, g_id) | share cosine < 0 |",
        "|---|---|---|---|---|",
    ]
    for variant in (*VARIANTS, *PROBES):
        rows = [r for r in pooled.get(variant, []) if "adv_cos" in r.get("adversarial", {})]
        if not rows:
            continue
        cells = [
            _cell([r["adversarial"][k] for r in rows]) for k in ("adv_acc", "adv_cos", "adv_neg")
        ]
        lines.append(f"| {variant} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| history (validation), real vs frozen | seeds | moving recall real | moving recall "
        "frozen | moving score delta |",
        "|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        rows = [r for r in pooled.get(variant, []) if "history" in r]
        if not rows:
            continue
        cells = [
            _cell([r["history"][k] for r in rows])
            for k in ("moving recall real", "moving recall frozen", "moving score delta mean")
        ]
        lines.append(f"| {variant} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_readme_table(text: str, readme: Path = README) -> None:
    start, end = TABLE_MARKERS
    content = readme.read_text()
    if start not in content or end not in content:
        raise ValueError(
            f"{readme}: the ablation table markers are missing ({start!r} ... {end!r})"
        )
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def _summary(record: dict) -> str:
    parts = [f"{k}={v:.3f}" for k, v in record.get("adversarial", {}).items()]
    for key, metrics in record.get("sets", {}).items():
        parts.append(
            f"{key}: mAP {metrics['map50']:.3f} centre MOTA {metrics['center']['mota']:.3f} "
            f"IDF1 {metrics['center']['idf1']:.3f}"
        )
    return ", ".join(parts) or "-"


# --- the dry run -------------------------------------------------------------------------------


def _tiny_synth(out: Path) -> tuple[int, int]:
    generate_archive(out, SynthConfig(videos=1, frames=4, width=192, height=128, seed=7), workers=1)
    return 192, 128


def _tiny_heldout(out: Path) -> tuple[int, int]:
    generate_heldout_archive(out, HeldoutConfig(videos=1, frames=4, width=192, height=128))
    return 192, 128


DRY_SETS = (
    EvalSet("synth", "training style (tiny)", _tiny_synth),
    EvalSet("heldout", "held-out family (tiny)", _tiny_heldout),
)


def dry_run(variants: tuple[str, ...], log: Callable[[str], None] = print) -> list[dict]:
    """Every variant for two steps on a tiny archive, scored on tiny sets, into a temporary
    results file: the path a real run takes, in about a minute on a CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate_archive(
            root / "train",
            SynthConfig(videos=2, frames=6, width=192, height=128, seed=3),
            workers=1,
        )
        overrides = {
            "data.path": str(root / "train"),
            "data.val_path": str(root / "train"),
            "data.input_size": [64, 64],
            "optim.epochs": 1,
            "optim.steps_per_epoch": 2,
            "optim.batch_size": 2,
            "optim.warmup_steps": 1,
            "loader_workers": 0,
            "val_images": 2,
            "storage_path": str(root / "runs"),
        }
        results = root / "ablation.jsonl"
        run(variants, (0,), results, overrides=overrides, sets=DRY_SETS, log=log)
        recorded = read_results(results)
        again = run(variants, (0,), results, overrides=overrides, sets=DRY_SETS, log=log)
        if again:
            raise RuntimeError("ablation: finished runs were run again")
        log(table(recorded))
        return recorded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", nargs="+", default=[*VARIANTS], choices=[*VARIANTS, *PROBES])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--results", type=Path, default=RESULTS, help="default: %(default)s")
    parser.add_argument("--table", action="store_true", help="print the table from --results")
    parser.add_argument(
        "--readme", action="store_true", help="with --table: write it into README.md too"
    )
    parser.add_argument("--dry-run", action="store_true", help="tiny archive, 2 steps a run")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    if args.table:
        text = table(read_results(args.results))
        print(text)
        if args.readme:
            write_readme_table(text)
            log(f"ablation: table written into {README}")
    elif args.dry_run:
        dry_run(tuple(args.variants), log)
    else:
        run(tuple(args.variants), tuple(args.seeds), args.results, log=log)
        print(table(read_results(args.results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
