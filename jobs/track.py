"""Ray Data batch tracking job: `python -m jobs.track INPUT OUTPUT [options]`.

The same command as `tgram batch`; this module exists so `ray job submit -- python -m
jobs.track ...` needs no console script on the cluster.
"""

from __future__ import annotations

import sys

from tgram.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["batch", *sys.argv[1:]]))
