"""What several benchmark scripts share: their run options; run every seed, append its rows,
print the table."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def anchors_file(out: Path, anchors: dict[str, int]) -> str | None:
    """Write `anchors` as a labels file beside run directory `out` (for --anchors); None when
    there are none."""
    if not anchors:
        return None
    from elicit.labels import write_labels

    path = out.parent / f"{out.name}-anchors.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_labels(path, anchors)
    return str(path)


def add_run_arguments(p: argparse.ArgumentParser, name: str) -> None:
    """The options every seeded benchmark takes; `name` names its default out/rows paths."""
    from elicit.models import DEFAULT_MODEL

    p.add_argument("--seeds", default="0")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=f"runs/{name}")
    p.add_argument("--rows", default=f"benchmarks/results/{name}.jsonl")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--report", metavar="ROWS", help="only print the table of a rows file")


def main_for(
    p: argparse.ArgumentParser,
    run_seed: Callable[[argparse.Namespace, int], list[dict[str, Any]]],
    report: Callable[[Path], None],
) -> None:
    """Parse, then either print the report of --report ROWS or run every seed."""
    args = p.parse_args()
    if args.report:
        report(Path(args.report))
        return
    run_seeds(args, run_seed, report)


def require_full_data() -> None:
    """Stop unless $ELICIT_DATA_DIR names the full data: the numbers in docs/ come from it, and
    without it tasks would quietly read the Hub or the small bundled samples instead."""
    import os
    import sys

    root = os.environ.get("ELICIT_DATA_DIR", "")
    if not root or not Path(root).is_dir():
        sys.exit(
            "benchmarks read the full data: set ELICIT_DATA_DIR to its folder (the one "
            "PROVENANCE.md describes), e.g. ELICIT_DATA_DIR=../shared/data python benchmarks/..."
        )


def run_seeds(
    args: argparse.Namespace,
    run_seed: Callable[[argparse.Namespace, int], list[dict[str, Any]]],
    report: Callable[[Path], None],
) -> None:
    """Pin torch to `args.threads`, run `run_seed` for each of `args.seeds` ("0,1,2"),
    appending its rows to `args.rows` as each seed finishes, then print `report(rows)`."""
    import torch

    require_full_data()
    torch.set_num_threads(args.threads)
    out = Path(args.rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    for seed in (int(s) for s in args.seeds.split(",")):
        rows = run_seed(args, seed)
        with out.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    report(out)


def label_settings(items: list[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` items as keyword options of `LabelConfig`, the search's nested ones
    (`mp`, `complete`, ...) included, each parsed to its option's type."""
    from elicit.commands.label import LabelConfig
    from elicit.config import build_config, option_fields

    options = {o.name: o for o in option_fields(LabelConfig)}
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        key = key.replace("-", "_")
        if key not in options:
            raise SystemExit(f"--set {item}: {key!r} is not an option of elicit label")
        out[key] = value
    # build_config parses each value as its option's type; read them back where they live.
    config: Any = build_config(LabelConfig, {"task": "sst2", **out}, "--set")
    parsed: dict[str, Any] = {}
    for key in out:
        holder = config
        for name in options[key].path:
            holder = getattr(holder, name)
        parsed[key] = getattr(holder, key)
    return parsed


def variant_name(settings: dict[str, Any]) -> str:
    """The name a set of `--set` options is recorded under in result rows."""
    return ",".join(f"{k}={v}" for k, v in sorted(settings.items())) or "default"


def append_rows(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Append `rows` to the JSON-lines file `path` (created with its folder if missing)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, blank lines skipped."""
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line]
