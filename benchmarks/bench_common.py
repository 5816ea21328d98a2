"""What several benchmark scripts share: run every seed, append its rows, print the table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def run_seeds(
    args: argparse.Namespace,
    run_seed: Callable[[argparse.Namespace, int], list[dict[str, Any]]],
    report: Callable[[Path], None],
) -> None:
    """Pin torch to `args.threads`, run `run_seed` for each of `args.seeds` ("0,1,2"),
    appending its rows to `args.rows` as each seed finishes, then print `report(rows)`."""
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in (int(s) for s in args.seeds.split(",")):
        rows = run_seed(args, seed)
        with out.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    report(out)
