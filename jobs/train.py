"""Ray Train DDP training job: `python -m jobs.train CONFIG --workers N [--gpu] [--storage URI]`.

The same command as `tgram train --workers N`; this module lets `ray job submit -- python -m
jobs.train ...` run without the console script on the cluster.
"""

from __future__ import annotations

import sys

from tgram.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    raise SystemExit(main(["train", *argv] if "--workers" in argv else ["train", *argv, "--workers", "1"]))
