"""`make bench`: run every tests/bench/bench_*.py and print one table of ratios.

Each module exposes `run() -> list[dict]` with rows: name, value, unit, peer, peer_value,
ratio (value / peer_value), target (text) and ok (bool, or None without a target). A
benchmark that raises becomes one row with ok False and an `error` key, so one broken
module never hides the others' results; the exit status is 1 if any did.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger(__name__)

BENCHES = tuple(sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py")))
ROW_KEYS = ("name", "value", "unit", "peer", "peer_value", "ratio", "target", "ok")


def machine() -> str:
    """What the numbers were measured on; the load matters on a shared machine."""
    import ray  # here, not at the top: the GPU check imports this module where Ray may be absent

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    load = os.getloadavg()[0]
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (load {load:.1f}), "
        f"{gpu}; python {platform.python_version()}, torch {torch.__version__}, ray {ray.__version__}"
    )


def row(
    name: str,
    value: float,
    unit: str = "",
    *,
    peer: str | None = None,
    peer_value: float | None = None,
    target: str | None = None,
    ok: bool | None = None,
) -> dict:
    """One row of ROW_KEYS; ratio = value / peer_value where there is a peer."""
    ratio = value / peer_value if peer_value else None
    return dict(
        name=name,
        value=value,
        unit=unit,
        peer=peer,
        peer_value=peer_value,
        ratio=ratio,
        target=target,
        ok=ok,
    )


def run_benchmark(module: str) -> list[dict]:
    """The rows of `tests.bench.<module>.run()`, or one failed row saying why there are none."""
    started = time.perf_counter()
    try:
        rows = importlib.import_module(f"tests.bench.{module}").run()
        for number, row in enumerate(rows, start=1):
            missing = [key for key in ROW_KEYS if key not in row]
            if missing:
                raise ValueError(
                    f"row {number} lacks {', '.join(missing)} (expected keys: {', '.join(ROW_KEYS)})"
                )
    except Exception as error:  # noqa: BLE001 - reported as a row; the other benchmarks still run
        log.exception("%s failed", module)
        reason = f"{type(error).__name__}: {error}"
        failed = {"name": f"{module} FAILED: {reason}", "ok": False, "error": reason}
        return [dict.fromkeys(ROW_KEYS) | failed]
    log.info("%s: %d rows in %.1f s", module, len(rows), time.perf_counter() - started)
    return rows


def _measure(value: float | None, unit: str | None) -> str:
    return "" if value is None else f"{value:.4g} {unit or ''}".strip()


def to_table(rows: list[dict]) -> str:
    """Rows as a plain-text table, one line per row."""
    header = ("benchmark", "value", "peer", "peer value", "ratio", "target", "ok")
    cells = [
        (
            r["name"],
            _measure(r["value"], r.get("unit")),
            str(r.get("peer") or ""),
            _measure(r.get("peer_value"), r.get("unit")),
            "" if r.get("ratio") is None else f"{r['ratio']:.3g}x",
            str(r.get("target") or ""),
            {True: "yes", False: "NO", None: ""}[r.get("ok")],
        )
        for r in rows
    ]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(line.rstrip() for line in lines)


def _json_value(value: object) -> object:
    """numpy scalars in rows are written as the numbers and booleans they are."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"benchmark row value {value!r} of type {type(value).__name__} is not JSON")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark (module name, `bench_` optional); repeatable",
    )
    parser.add_argument(
        "--out", default="bench_results.json", help="JSON results file (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    wanted = {name if name.startswith("bench_") else f"bench_{name}" for name in args.only or ()}
    if unknown := sorted(wanted.difference(BENCHES)):
        parser.error(
            f"--only: no benchmark {', '.join(unknown)} (expected one of: {', '.join(BENCHES)})"
        )
    benches = tuple(name for name in BENCHES if not wanted or name in wanted)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    rows = [row for module in benches for row in run_benchmark(module)]
    about = machine()
    print(f"machine: {about}")
    print(to_table(rows))
    results = {"machine": about, "benchmarks": list(benches), "rows": rows}
    Path(args.out).write_text(json.dumps(results, indent=1, default=_json_value) + "\n")
    print(f"results: {args.out}")
    return 1 if any("error" in row for row in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
