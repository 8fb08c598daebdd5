"""Ray Train DDP training job: `python -m jobs.train CONFIG [options]`.

    ray job submit --working-dir . -- python -m jobs.train configs/train/synth.yaml --workers 4 --gpu

The same command as `tgram train --ray` (same arguments, same library call); this module
exists so `ray job submit -- python -m jobs.train ...` needs no console script on the cluster.
"""

from __future__ import annotations

import sys

from tgram.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", "--ray", *sys.argv[1:]]))
