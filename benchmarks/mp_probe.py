"""What drives the default model's leave-one-out scores: claim content or context labels?

ICM's mutual predictability (MP) scores a labelling by how well the model predicts each label
from all the others in context. For that to point at the truth, a query's leave-one-out score
s_i must depend on its content in a way the context's labels teach. This probe takes N claims
of one task and, for several labellings of them (gold, flipped, the model's own zero-shot
ranking, random ones, constant ones), computes every leave-one-out score and reports:

    MP forms     mean (released code), calibrated (centred; elicit), sum-logprob (paper), and
                 contextual: s_i minus the score of a content-free probe claim in the same
                 context (Zhao et al. 2021's contextual calibration), which removes what the
                 context alone pushes every query towards (majority and recency copying).
    regression   s_i ~ zero-shot score z_i + label of the demo right before i + share of
                 True labels in i's context, over all labellings together: how much of the
                 leave-one-out score is content and how much is copying.

    python benchmarks/mp_probe.py --task sst2 --n 32 --rows benchmarks/results/mp_probe.jsonl

--no-contextual skips the content-free probes (N text prompts per labelling, no prefix
sharing: most of the run's time) and their two columns. --neighbours also scores gold's N
single-flip neighbours under calibrated and balanced MP: a search moves one label at a time, so
a form under which neighbours of gold beat gold gives the search a way off it.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

import numpy as np
import torch

from elicit.backends import load_lm
from elicit.backends.base import TRUE_FALSE, Demo
from elicit.backends.prompting import render_context, tree_loo_orders
from elicit.models import DEFAULT_MODEL
from elicit.search.energy import balanced_units, mutual_predictability
from elicit.search.order import context_order
from elicit.tasks import load_task, sample

PROBE_CLAIM = "N/A"


def content_free(prompt: str) -> str:
    """The prompt with its first line's content (after a "Name: " field label) made "N/A"."""
    first, sep, rest = prompt.partition("\n")
    field, colon, _ = first.partition(": ")
    return (field + colon if colon else "") + PROBE_CLAIM + sep + rest


def without_nan(value: Any) -> Any:
    """`value` with every NaN (a skipped column) as None, so the rows stay strict JSON."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nan(v) for v in value]
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--random", type=int, default=3, help="random labellings")
    ap.add_argument("--order", default="tree", choices=["tree", "given"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rows", default=None, help="append tidy rows (JSON lines) here")
    ap.add_argument(
        "--no-contextual", action="store_true", help="skip the content-free probe columns"
    )
    ap.add_argument("--neighbours", action="store_true", help="score gold's single-flip neighbours")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = sample(load_task(args.task), args.n, args.seed, keep_groups=True)
    examples = list(data.examples)
    gold = [int(data.gold[ex.uid]) for ex in examples] if data.gold else None
    if gold is None:
        raise SystemExit(f"{args.task} has no gold labels")
    order = context_order(examples, "interleaved", random.Random(args.seed))
    examples = [examples[i] for i in order]
    gold = [gold[i] for i in order]
    n = len(examples)
    lm = load_lm(args.model, batch_size=8)
    t0 = time.perf_counter()
    zero = np.asarray(lm.score([ex.prompt for ex in examples]), dtype=np.float64)
    rank_labels = [int(z > np.median(zero)) for z in zero]
    rng = np.random.default_rng(args.seed)
    labellings: dict[str, list[int]] = {
        "gold": gold,
        "flipped": [1 - y for y in gold],
        "zero-shot ranking": rank_labels,
        "all True": [1] * n,
        "all False": [0] * n,
    }
    for r in range(args.random):
        labellings[f"random {r}"] = [int(v) for v in rng.integers(0, 2, n)]
    # Adversarial for copying: each query's nearest demo (its sibling in the tree, the demo
    # before it in the given order) gets its label; the pattern itself is random.
    pair_labels = [int(v) for v in rng.integers(0, 2, n)]
    if args.order == "tree":
        labellings["copy pattern"] = [pair_labels[i // 2] for i in range(n)]
    else:
        labellings["copy pattern"] = [int(i >= n // 2) for i in range(n)]

    others = (
        tree_loo_orders(n)
        if args.order == "tree"
        else [[j for j in range(n) if j != i] for i in range(n)]
    )
    probes = [content_free(ex.prompt) for ex in examples]
    rows = []
    feats: list[list[float]] = []
    targets: list[float] = []
    print(
        f"{args.task}: n={n}, order={args.order}, zero-shot AUROC-ish check: "
        f"rank agreement with gold {np.mean(np.asarray(rank_labels) == np.asarray(gold)):.3f}"
    )
    header = (
        f"{'labelling':<18} {'agree':>6} {'mean':>7} {'calib':>7} {'sumlp':>8} "
        f"{'context':>8} {'ctx-cal':>8} {'bal-raw':>8} {'balanced':>8}"
    )
    print(header)
    for name, labels in labellings.items():
        demos = [Demo(ex.prompt, y) for ex, y in zip(examples, labels, strict=True)]
        s = np.asarray(lm.loo_scores(demos, TRUE_FALSE, order=args.order), dtype=np.float64)
        # Content-free probe in each query's own leave-one-out context.
        probe_prompts = [
            render_context([demos[j] for j in others[i]], probes[i], TRUE_FALSE) for i in range(n)
        ]
        c = (
            np.full(n, np.nan)
            if args.no_contextual
            else np.asarray(lm.score(probe_prompts), dtype=np.float64)
        )
        b = np.asarray(
            lm.unit_loo_scores(demos, balanced_units(labels), TRUE_FALSE, order=args.order),
            dtype=np.float64,
        )
        sign = 2 * np.asarray(labels) - 1
        row = {
            "task": args.task,
            "model": args.model,
            "n": n,
            "seed": args.seed,
            "order": args.order,
            "labelling": name,
            "agreement": float(np.mean(np.asarray(labels) == np.asarray(gold))),
            "mp_mean": mutual_predictability(s, labels, "mean"),
            "mp_calibrated": mutual_predictability(s, labels, "calibrated"),
            "mp_sum_logprob": mutual_predictability(s, labels, "sum-logprob"),
            "mp_contextual": float(np.mean(sign * (s - c))),
            "mp_contextual_calibrated": mutual_predictability(s - c, labels, "calibrated"),
            "mp_balanced_raw": mutual_predictability(b, labels, "mean"),
            "mp_balanced": mutual_predictability(b, labels, "balanced"),
            "balanced_scores": b.tolist(),
            "corr_balanced_zero_shot": float(np.corrcoef(b, zero)[0, 1]),
            "labels": list(labels),
            "scores": s.tolist(),
            "probe_scores": c.tolist(),
            "zero_shot": zero.tolist(),
            "corr_loo_zero_shot": float(np.corrcoef(s, zero)[0, 1]),
            "corr_contextual_zero_shot": float(np.corrcoef(s - c, zero)[0, 1]),
        }
        rows.append(row)
        print(
            f"{name:<18} {row['agreement']:6.3f} {row['mp_mean']:7.3f} "
            f"{row['mp_calibrated']:7.3f} {row['mp_sum_logprob']:8.2f} "
            f"{row['mp_contextual']:8.3f} {row['mp_contextual_calibrated']:8.3f} "
            f"{row['mp_balanced_raw']:8.3f} {row['mp_balanced']:8.3f}  "
            f"corr(s,z)={row['corr_loo_zero_shot']:.2f} "
            f"corr(s-c,z)={row['corr_contextual_zero_shot']:.2f} "
            f"corr(b,z)={row['corr_balanced_zero_shot']:.2f}"
        )
        for i in range(n):
            prev = labels[others[i][-1]] if others[i] else 0.5
            share = float(np.mean([labels[j] for j in others[i]])) if others[i] else 0.5
            feats.append([1.0, zero[i], 2 * prev - 1, 2 * share - 1])
            targets.append(s[i])
    # Does gold rank first, and by how much over the best labelling that is not gold?
    for key in (
        "mp_mean",
        "mp_calibrated",
        "mp_sum_logprob",
        "mp_contextual",
        "mp_contextual_calibrated",
        "mp_balanced_raw",
        "mp_balanced",
    ):
        gold_mp = rows[0][key]
        if np.isnan(gold_mp):  # a column skipped (--no-contextual)
            continue
        best = max(rows[1:], key=lambda r: r[key])
        print(
            f"{key:<26} gold {gold_mp:8.3f}  best other {best[key]:8.3f} ({best['labelling']})"
            f"  margin {gold_mp - best[key]:+.3f}"
        )
    x = np.asarray(feats)
    y = np.asarray(targets)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ coef
    r2 = 1 - resid.var() / y.var()
    stds = x[:, 1:].std(axis=0)
    print(
        f"regression s ~ 1 + zero_shot + prev_label(+-1) + share_true(+-1): coef "
        f"{np.round(coef, 3).tolist()}, R^2 {r2:.3f}; "
        f"effect of 1 sd: zero-shot {coef[1] * stds[0]:.3f}, prev {coef[2] * stds[1]:.3f}, "
        f"share {coef[3] * stds[2]:.3f}"
    )
    neighbour_rows = []
    if args.neighbours:
        for i in range(n):
            labels = [1 - y if j == i else y for j, y in enumerate(gold)]
            demos = [Demo(ex.prompt, y) for ex, y in zip(examples, labels, strict=True)]
            s = lm.loo_scores(demos, TRUE_FALSE, order=args.order)
            b = lm.unit_loo_scores(demos, balanced_units(labels), TRUE_FALSE, order=args.order)
            neighbour_rows.append(
                {
                    "task": args.task,
                    "model": args.model,
                    "n": n,
                    "seed": args.seed,
                    "order": args.order,
                    "labelling": f"gold, claim {i} flipped",
                    "agreement": (n - 1) / n,
                    "mp_calibrated": mutual_predictability(s, labels, "calibrated"),
                    "mp_balanced": mutual_predictability(b, labels, "balanced"),
                }
            )
        for key in ("mp_calibrated", "mp_balanced"):
            values = np.asarray([r[key] for r in neighbour_rows])
            print(
                f"gold's {n} single-flip neighbours, {key}: gold {rows[0][key]:.3f}, "
                f"neighbours max {values.max():.3f} mean {values.mean():.3f}, "
                f"{int((values >= rows[0][key]).sum())} at or above gold"
            )
    print(f"{time.perf_counter() - t0:.0f} s")
    if args.rows:
        summary = {
            "task": args.task,
            "model": args.model,
            "n": n,
            "seed": args.seed,
            "order": args.order,
            "labelling": "regression",
            "coef": coef.tolist(),
            "r2": float(r2),
        }
        with open(args.rows, "a", encoding="utf-8") as f:
            for row in [*rows, *neighbour_rows, summary]:
                f.write(json.dumps(without_nan(row)) + "\n")


if __name__ == "__main__":
    main()
