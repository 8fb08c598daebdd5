"""Ray Train DDP training job.

    python -m jobs.train CONFIG [--workers N] [--gpu] [--storage URI] [--address auto]
    ray job submit --working-dir . -- python -m jobs.train configs/train/synth.yaml --workers 4 --gpu

The same library call as `tgram train --workers N`, without needing the console script on
the cluster.
"""

from __future__ import annotations

import argparse
import logging

from tgram.ray_train import train_on_ray
from tgram.train import load_train_config


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jobs.train", description=__doc__.splitlines()[0]
    )
    parser.add_argument("config", help="training YAML (configs/train/*.yaml)")
    parser.add_argument("--workers", type=int, default=1, help="DDP workers (default: 1)")
    parser.add_argument(
        "--gpu", action="store_true", help="one GPU per worker (NCCL); default CPU (gloo)"
    )
    parser.add_argument(
        "--storage", help="local dir or s3:// prefix for checkpoints (overrides storage_path)"
    )
    parser.add_argument(
        "--address", help="Ray cluster address (auto, ray://host:10001); default: start a local Ray"
    )
    parser.add_argument(
        "--max-failures", type=int, default=2, help="worker-group restarts allowed (default: 2)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = load_train_config(args.config)
    result, weights_uri = train_on_ray(
        cfg,
        workers=args.workers,
        use_gpu=args.gpu,
        storage_path=args.storage,
        address=args.address,
        max_failures=args.max_failures,
    )
    print(f"Ray Train run: {result.path}")
    print(f"weights: {weights_uri}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
