"""Weak-to-strong diagnostics and variants: training curve and early stopping, fine-tune on weak
then probe on gold, easy-to-hard, generative fine-tuning (docs/W2S.md).

Each experiment is a set of `elicit w2s` runs (tasks x seeds x variants); every run's tidy rows
are appended to --rows with the experiment's name, the variant and its settings. `--report`
prints one markdown table per experiment (mean ± sd over seeds, %).

    python benchmarks/w2s_extras.py --experiment curve --seeds 0
    python benchmarks/w2s_extras.py --experiment probe-gold --seeds 0,1
    python benchmarks/w2s_extras.py --experiment e2h --seeds 0,1,2 --tasks sst2
    python benchmarks/w2s_extras.py --experiment e2h --seeds 0,1 --tasks gsm8k-verification
    python benchmarks/w2s_extras.py --experiment generative --seeds 0,1
    python benchmarks/w2s_extras.py --report benchmarks/results/w2s_extras.jsonl \
        --plot-curve docs/figures/w2s_curve.png

Rows go to --rows (default benchmarks/results/w2s_extras.jsonl), runs to --out
(runs/w2s_extras/<experiment>-<task>-<variant>-s<seed>); a finished run is read back, not
redone, so rerunning a command only re-appends its rows (the report keeps the latest).

Experiments (sizes chosen so that a seed runs in minutes on a 2-core CPU):

- curve: SST-2, TF-IDF -> gemma-3-270m fine-tuned (LoRA, label words), 24 steps, the test and
  validation accuracy every 4 steps, early stopping on a 20% validation slice of weak labels.
- probe-gold: the same students trained to the end, then linear probes with gold labels on
  their frozen features, next to probes on the untrained model (the paper's saliency section).
- e2h: easy-to-hard with linear probes: SST-2 (difficulty = the TF-IDF supervisor's
  confidence) and GSM8K-verification (the ICM release's difficulty field).
- generative: SST-2 with linear probes, with and without a 20-step language-modelling pass on
  half 2's texts first.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from elicit.commands.w2s import W2SConfig, run_w2s
from elicit.runs import is_finished, read_jsonl

FINE_TUNED = {"objective": "word", "n": 128, "test_n": 100, "max_steps": 24}
PROBED = {"objective": "probe", "n": 200, "test_n": 200}

#: experiment -> list of (task, variant name, W2SConfig options).
EXPERIMENTS: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
    "curve": [
        (
            "sst2",
            "early-stop",
            {**FINE_TUNED, "losses": "xent,confidence", "eval_every": 4, "early_stop": True},
        ),
    ],
    "probe-gold": [
        ("sst2", "probe-gold", {**FINE_TUNED, "losses": "xent", "probe_gold": True}),
    ],
    "e2h": [
        ("sst2", "e2h", {**PROBED, "easy_to_hard": True}),
        ("gsm8k-verification", "e2h", {**PROBED, "easy_to_hard": True}),
    ],
    "generative": [
        ("sst2", "plain", {**PROBED}),
        ("sst2", "generative", {**PROBED, "generative_finetune": True, "gen_steps": 20}),
    ],
}


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    tasks = args.tasks.split(",") if args.tasks else None
    for task, variant, options in EXPERIMENTS[args.experiment]:
        if tasks is not None and task not in tasks:
            continue
        for seed in [int(s) for s in args.seeds.split(",")]:
            out = Path(args.out) / f"{args.experiment}-{task}-{variant}-s{seed}"
            if not is_finished(out):
                run_w2s(W2SConfig(task=task, seed=seed, out=str(out), progress=args.progress,
                                  weak=args.weak, **options))  # fmt: skip
            rows = read_jsonl(out / "results.jsonl")
            # The run's options go in with an "opt_" prefix: "n" is a row's own column (how
            # many claims were scored) and must not be overwritten by the option --n.
            settings = {"experiment": args.experiment, "variant": variant, "weak": args.weak,
                        **{f"opt_{k}": v for k, v in options.items()}}  # fmt: skip
            metrics = json.loads((out / "metrics.json").read_text())
            with open(args.rows, "a", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps({**r, **settings}) + "\n")
                f.write(json.dumps({"task": task, "method": "run", "split": "-", "seed": seed,
                                    "metric": "seconds", "value": metrics["seconds"],
                                    **settings}) + "\n")  # fmt: skip
            acc = {r["method"]: round(r["value"], 3) for r in rows
                   if r["metric"] == "accuracy" and r["split"] == "test"}  # fmt: skip
            print(f"{args.experiment} {task} {variant} seed {seed} "
                  f"({metrics['seconds']:.0f} s): {acc}", flush=True)  # fmt: skip


def _fmt(values: list[float], scale: float = 100.0) -> str:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return "-"
    mean = statistics.fmean(vals) * scale
    if len(vals) == 1:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {statistics.stdev(vals) * scale:.1f}"


def _latest(path: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The last row of every (experiment, task, variant, seed, method, split, metric, step)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in read_jsonl(path):
        key = (r["experiment"], r["task"], r["variant"], r["seed"], r["method"], r["split"],
               r["metric"], r.get("step"))  # fmt: skip
        out[key] = r
    return out


def _table(
    latest: dict[tuple[Any, ...], dict[str, Any]],
    experiment: str,
    columns: list[tuple[str, str, str]],
) -> str:
    """One row per (task, variant); a column (header, split, method) holds that method's
    accuracy on that split (%), or with split "step" its early-stopping step."""
    cells: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seeds: dict[tuple[str, str], set[int]] = defaultdict(set)
    for (exp, task, variant, seed, method, split, metric, step), r in latest.items():
        if exp != experiment or step is not None or r["value"] is None:
            continue
        seeds[(task, variant)].add(seed)
        for header, want_split, want in columns:
            if want_split == "step":
                hit = split == "test" and metric == "early_stop_step"
            else:
                hit = split == want_split and metric == "accuracy"
            if hit and method == want:
                cells[(task, variant)][header].append(r["value"])
    head = ["task", "variant", "seeds", *(c[0] for c in columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, variant), by in sorted(cells.items()):
        row = [task, variant, str(len(seeds[(task, variant)]))]
        for header, split, _ in columns:
            row.append(_fmt(by.get(header, []), 1.0 if split == "step" else 100.0))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def report(path: str) -> str:
    latest = _latest(path)
    experiments = {k[0] for k in latest}
    parts = []
    if "curve" in experiments:
        parts += ["### curve (early-stopped students; test accuracy, %)", "", _table(latest, "curve", [
            ("weak", "test", "weak"), ("zero-shot", "test", "strong-zero-shot"),
            ("w2s-xent", "test", "w2s-xent"), ("w2s-confidence", "test", "w2s-confidence"),
            ("ceiling", "test", "ceiling"), ("stop xent", "step", "w2s-xent"),
            ("stop conf", "step", "w2s-confidence"), ("stop ceiling", "step", "ceiling"),
        ]), "", "Curve (test accuracy at each step, %; val = accuracy on the validation "
            "slice's labels):", "", _curve_table(latest, "curve"), ""]  # fmt: skip
    if "probe-gold" in experiments:
        parts += ["### fine-tune on weak, then probe on gold (test accuracy, %)", "", _table(
            latest, "probe-gold", [
                ("weak", "test", "weak"), ("lp(weak)", "test", "probe-weak"),
                ("ft(weak)", "test", "w2s-xent"), ("lp(gold)", "test", "probe-gold"),
                ("ft(weak)+lp(gold)", "test", "w2s-xent+probe-gold"),
                ("ft(gold)", "test", "ceiling"),
            ]), ""]  # fmt: skip
    if "e2h" in experiments:
        methods = [("weak", "weak"), ("zero-shot", "strong-zero-shot"), ("w2s-xent", "w2s-xent"),
                   ("w2s-conf", "w2s-confidence"), ("easy gold", "e2h-easy-gold"),
                   ("random gold", "e2h-random-gold"), ("all gold", "ceiling")]  # fmt: skip
        for split in ("test-hard", "test-easy"):
            parts += [f"### easy-to-hard: accuracy on {split} (%)", "",
                      _table(latest, "e2h", [(h, split, m) for h, m in methods]), ""]  # fmt: skip
        parts += [_e2h_sizes(latest), ""]
    if "generative" in experiments:
        parts += ["### generative fine-tuning (test accuracy, %)", "", _table(latest, "generative", [
            ("weak", "test", "weak"), ("zero-shot", "test", "strong-zero-shot"),
            ("zero-shot after LM pass", "test", "strong-gen-zero-shot"),
            ("w2s-xent", "test", "w2s-xent"), ("w2s-confidence", "test", "w2s-confidence"),
            ("ceiling", "test", "ceiling"),
        ]), "", _pgr_table(latest, "generative"), ""]  # fmt: skip
    return "\n".join(parts)


def _curve_table(latest: dict[tuple[Any, ...], dict[str, Any]], experiment: str) -> str:
    by: dict[tuple[str, str, str], dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (exp, task, _, _, method, split, metric, step), r in latest.items():
        if exp == experiment and step is not None and r["value"] is not None:
            if metric == "curve_accuracy" and split == "test":
                by[(task, method, "test")][step].append(r["value"])
            elif metric == "curve_label_accuracy":
                by[(task, method, "val")][step].append(r["value"])
    steps = sorted({s for d in by.values() for s in d})
    head = ["task", "student", "scored on", *(f"step {s}" for s in steps)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, method, kind), points in sorted(by.items()):
        row = [task, method, "test (gold)" if kind == "test" else "val (its labels)"]
        row += [_fmt(points.get(s, [])) for s in steps]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _pgr_table(latest: dict[tuple[Any, ...], dict[str, Any]], experiment: str) -> str:
    from elicit.w2s.pgr import pgr_summary

    acc: dict[tuple[str, str, str], dict[int, float]] = defaultdict(dict)
    for (exp, task, variant, seed, method, split, metric, step), r in latest.items():
        if exp == experiment and split == "test" and metric == "accuracy" and step is None:
            acc[(task, variant, method)][seed] = r["value"]
    lines = ["| task | variant | PGR xent | PGR confidence |", "|---|---|---|---|"]
    for task, variant in sorted({(t, v) for t, v, _ in acc}):
        cells = []
        for loss in ("xent", "confidence"):
            weak, w2s, ceiling = (acc.get((task, variant, m), {})
                                  for m in ("weak", f"w2s-{loss}", "ceiling"))  # fmt: skip
            seeds = sorted(set(weak) & set(w2s) & set(ceiling))
            if not seeds:
                cells.append("-")
                continue
            s = pgr_summary([weak[i] for i in seeds], [w2s[i] for i in seeds],
                            [ceiling[i] for i in seeds])  # fmt: skip
            cells.append(_fmt(list(s.values)) + (" (unstable)" if s.unstable else ""))
        lines.append(f"| {task} | {variant} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _e2h_sizes(latest: dict[tuple[Any, ...], dict[str, Any]]) -> str:
    lines = ["| task | seed | hard test claims | share True (hard) | easy test claims |",
             "|---|---|---|---|---|"]  # fmt: skip
    found: dict[tuple[str, int], dict[str, Any]] = defaultdict(dict)
    for (exp, task, _, seed, method, split, metric, _), r in latest.items():
        if exp == "e2h" and method == "gold" and metric == "frac_true":
            found[(task, seed)][split] = r
    for (task, seed), by in sorted(found.items()):
        hard, easy = by.get("test-hard"), by.get("test-easy")
        if hard and easy:
            lines.append(f"| {task} | {seed} | {hard['n']} | {100 * hard['value']:.0f}% | "
                         f"{easy['n']} |")  # fmt: skip
    return "\n".join(lines)


def plot_curve(path: str, png: str) -> None:
    from elicit.w2s.plots import plot_curve as draw

    rows = [r for r in read_jsonl(path) if r.get("experiment") == "curve" and r.get("seed") == 0]
    print(draw(rows, png, title="sst2: tfidf -> gemma-3-270m (LoRA), seed 0"))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--experiment", choices=sorted(EXPERIMENTS), default="curve")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--tasks", default="", help="only these of the experiment's tasks (a,b)")
    ap.add_argument("--weak", default="tfidf")
    ap.add_argument("--out", default="runs/w2s_extras")
    ap.add_argument("--rows", default="benchmarks/results/w2s_extras.jsonl")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--progress", action="store_true")
    ap.add_argument("--report", metavar="ROWS", help="print the markdown tables of ROWS and exit")
    ap.add_argument("--plot-curve", metavar="PNG", help="with --report: draw seed 0's curves")
    args = ap.parse_args()
    if args.report:
        print(report(args.report))
        if args.plot_curve:
            plot_curve(args.report, args.plot_curve)
        return
    run(args)


if __name__ == "__main__":
    main()
