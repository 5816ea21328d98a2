"""Does the objective or the search miss gold? The energy of gold's labelling on an ICM run's pool.

For each finished `elicit label` run (one batch), rebuild the run's search exactly (its config,
its pool in order, its batch seed, so the same context order) and evaluate three labellings of
the whole pool with its energy: the run's final labels, gold, and gold with every label
flipped. If gold's energy is above the run's, the search stopped short of a better labelling
the objective would have preferred; if below, the objective itself prefers a labelling other
than gold, and no search would find gold. Costs three leave-one-out evaluations per run.

    python benchmarks/gold_energy.py runs/table/complete-True_mp-balanced/sst2-n32-s{0,1,2}/label \\
        --rows benchmarks/results/gold_energy.jsonl
    python benchmarks/gold_energy.py --report benchmarks/results/gold_energy.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path
from typing import Any

from elicit.backends import load_lm
from elicit.backends.base import LM, LabelSet
from elicit.commands.label import LabelConfig
from elicit.config import build_config
from elicit.labels import read_labels
from elicit.runs import is_finished, read_jsonl
from elicit.search.batches import batch_seed
from elicit.search.icm import Search
from elicit.tasks import load_task


def run_config(run: Path) -> LabelConfig:
    if not is_finished(run) or not (run / "pool.jsonl").is_file():
        raise SystemExit(f"{run} is not a finished `elicit label` run directory (with pool.jsonl)")
    values = json.loads((run / "config.json").read_text(encoding="utf-8"))
    return build_config(LabelConfig, values, str(run / "config.json"))


def evaluate_run(lm: LM, run: Path) -> dict[str, Any]:
    """Energies of the run's labels, gold and flipped gold on the run's own search."""
    config = run_config(run)
    pool = read_jsonl(run / "pool.jsonl")
    if {p["batch"] for p in pool} != {0}:
        raise SystemExit(f"{run}: searched in several batches; this compares one-batch runs")
    data = load_task(config.task, config.load_options())
    by_uid = {ex.uid: ex for ex in data.examples}
    examples = [by_uid[p["uid"]] for p in pool]
    search = Search(
        lm,
        examples,
        data.consistency,
        config.search,
        random.Random(batch_seed(config.seed, 0)),
        label_set=LabelSet(words=data.label_words),
    )
    found = read_labels(run)
    recorded = json.loads((run / "metrics.json").read_text("utf-8"))["energy"]
    labellings = {
        "icm": {i: found[ex.uid] for i, ex in enumerate(examples) if ex.uid in found},
        "gold": {i: data.gold[ex.uid] for i, ex in enumerate(examples)},
    }
    labellings["flipped-gold"] = {i: 1 - y for i, y in labellings["gold"].items()}
    row: dict[str, Any] = {
        "run": str(run),
        "task": config.task,
        "model": lm.name,
        "seed": config.seed,
        "mp_kind": config.search.mp,
        "pool": len(examples),
        "icm_energy_recorded": recorded,  # the run's own: the rebuilt search must reproduce it
    }
    for name, labelling in labellings.items():
        evaluation = search.evaluator.evaluate(labelling)
        row[f"{name}_energy"] = evaluation.energy
        row[f"{name}_mp"] = evaluation.mp
        row[f"{name}_n"] = len(labelling)
    gold = labellings["gold"]
    row["icm_agreement"] = statistics.fmean(
        float(y == gold[i]) for i, y in labellings["icm"].items()
    )
    return row


def report(path: str) -> str:
    rows = read_jsonl(path)
    head = (
        "| model | task | MP | seed | pool | ICM labelled, agreement | MP: ICM / gold / flipped gold "
        "| energy: ICM / gold | gold above ICM? |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        gap = r["gold_energy"] - r["icm_energy"]
        above = "yes: the search fell short" if gap > 1e-9 else "no: the objective prefers ICM's"
        above = "tie" if abs(gap) <= 1e-9 else above
        lines.append(
            f"| {r['model']} | {r['task']} | {r['mp_kind']} | {r['seed']} | {r['pool']} "
            f"| {r['icm_n']}, {100 * r['icm_agreement']:.1f}% "
            f"| {r['icm_mp']:.3f} / {r['gold_mp']:.3f} / {r['flipped-gold_mp']:.3f} "
            f"| {r['icm_energy']:.2f} / {r['gold_energy']:.2f} | {above} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="*", help="finished `elicit label` run directories")
    ap.add_argument("--model", default=None, help="default: the runs' own model")
    ap.add_argument("--backend", default=None, help="default: the runs' own backend")
    ap.add_argument("--rows", default=None, help="append one row per run to this JSONL file")
    ap.add_argument("--report", metavar="ROWS", help="only print the table of a rows file")
    args = ap.parse_args()
    if args.report:
        print(report(args.report))
        return
    if not args.runs:
        raise SystemExit("give one or more `elicit label` run directories (or --report ROWS)")
    first = run_config(Path(args.runs[0]))
    lm = load_lm(args.model or first.model, backend=args.backend or first.backend)
    for run in map(Path, args.runs):
        row = evaluate_run(lm, run)
        print(json.dumps(row), flush=True)
        if args.rows:
            with open(args.rows, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
