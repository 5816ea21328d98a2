"""Stress tests for unsupervised elicitation (issue 9; Canavan et al. 2026 argue that balanced
benchmarks flatter it): an imbalanced pool, a distracting feature more salient than the truth,
and a "coherent myth" seeded into the search. Rows for docs/RESULTS.md.

Pools are SST-2 training claims (each seed draws its own), written as `claims` files under
--out (the repository never holds data):

    balanced     P claims, half positive: the reference
    imbalanced   20% positive, 80% negative
    distractor   balanced, and every review carries a star rating that contradicts its gold
                 sentiment ("Rating: 1/5 stars." on positive reviews, 5/5 on negative ones): a
                 labelling that follows the rating is perfectly coherent and always wrong
    myth         balanced; the search starts from 8 anchors labelled by a consistent false
                 rule (True iff the review is longer than the pool's median, in words), at the
                 default --anchor-weight: does it overrule the myth, or spread it?

Methods on each pool (agreement with gold of the labels each produces on the pool, the
examples it labels; anchors excluded for anchored runs):

    zero-shot        the model's own answer per claim (`elicit score`): accuracy, calibrated
                     accuracy (threshold at the pool's median score) and AUROC
    icm              `elicit label`, no labels
    icm+8 gold       `elicit label --anchors` with 8 gold labels (not on the myth pool)
    icm+8 myth       the myth pool only: 8 anchors from the false rule

    python benchmarks/stress.py --pool 16 --iterations 24 --seeds 0 \
        --rows benchmarks/results/stress.jsonl
    python benchmarks/stress.py --report benchmarks/results/stress.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_common import add_run_arguments, anchors_file, main_for

from elicit.commands.label import LabelConfig, run_label
from elicit.commands.score import ScoreConfig, run_score
from elicit.runs import is_finished, read_jsonl
from elicit.tasks import load_task
from elicit.tasks.base import CLAIM_SUFFIX, Example, LoadOptions

POOLS = ("balanced", "imbalanced", "distractor", "myth")
N_ANCHORS = 8


def _text(ex: Example) -> str:
    return ex.prompt.removesuffix("\n" + CLAIM_SUFFIX)


def _review_words(ex: Example) -> int:
    review = _text(ex).split("\n", 1)[0].removeprefix("Review: ")
    return len(review.split())


def build_pool(kind: str, size: int, seed: int) -> list[dict[str, Any]]:
    """Rows {uid, text, label} of one stressed pool."""
    data = load_task("sst2", LoadOptions(split="train"))
    rng = random.Random(f"stress/{seed}")
    pos = [ex for ex in data.examples if data.gold[ex.uid] == 1]
    neg = [ex for ex in data.examples if data.gold[ex.uid] == 0]
    n_pos = round(0.2 * size) if kind == "imbalanced" else size // 2
    chosen = rng.sample(pos, n_pos) + rng.sample(neg, size - n_pos)
    rng.shuffle(chosen)
    rows = []
    for ex in chosen:
        gold = data.gold[ex.uid]
        text = _text(ex)
        if kind == "distractor":
            review, claim = text.split("\n", 1)
            stars = 1 if gold == 1 else 5
            text = f"{review}\nRating: {stars}/5 stars.\n{claim}"
        rows.append({"uid": ex.uid, "text": text, "label": gold, "words": _review_words(ex)})
    return rows


def myth_anchors(rows: list[dict[str, Any]], seed: int) -> dict[str, int]:
    median = statistics.median(r["words"] for r in rows)
    chosen = random.Random(f"myth/{seed}").sample(rows, N_ANCHORS)
    return {r["uid"]: int(r["words"] > median) for r in chosen}


def gold_anchors(rows: list[dict[str, Any]], seed: int) -> dict[str, int]:
    chosen = random.Random(f"anchors/{seed}").sample(rows, N_ANCHORS)
    return {r["uid"]: int(r["label"]) for r in chosen}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def label_run(
    args: argparse.Namespace, data: Path, out: Path, seed: int, anchors: dict[str, int] | None
) -> dict[str, Any]:
    if not is_finished(out):
        config = LabelConfig(
            task="claims", data=str(data), n=None, seed=seed, iterations=args.iterations,
            model=args.model, out=str(out), resume=(out / "config.json").exists(),
            progress=args.progress, anchors=anchors_file(out, anchors or {}),
        )  # fmt: skip
        run_label(config)
    return {r["uid"]: r for r in read_jsonl(out / "labels.jsonl")}


def agreement(labels: dict[str, dict[str, Any]], rule: dict[str, int], skip: set[str]) -> float:
    keep = [u for u in labels if u not in skip and u in rule]
    return (
        sum(int(labels[u]["label"]) == rule[u] for u in keep) / len(keep) if keep else float("nan")
    )


def run_seed(args: argparse.Namespace, seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    root = Path(args.out) / f"p{args.pool}-s{seed}"
    for kind in POOLS:
        pool = build_pool(kind, args.pool, seed)
        data = write_jsonl(root / kind / "claims.jsonl", pool)
        gold = {r["uid"]: int(r["label"]) for r in pool}
        base = {
            "pool": kind,
            "seed": seed,
            "n": len(pool),
            "frac_true": statistics.mean(gold.values()),
        }

        def row(method: str, base: dict[str, Any] = base, **values: Any) -> None:
            rows.append({**base, "method": method, **values})
            print(json.dumps(rows[-1]), flush=True)

        if kind != "myth":  # the myth pool's claims are the balanced kind: no new zero-shot
            score = run_score(ScoreConfig(
                task="claims", data=str(data), n=None, model=args.model,
                out=str(root / kind / "score"), force=True, progress=args.progress,
            ))  # fmt: skip
            m = score.metrics
            row("zero-shot", agreement=m["accuracy"], calibrated=m["calibrated_accuracy"],
                auroc=m["auroc"], labelled=len(pool))  # fmt: skip
            icm = label_run(args, data, root / kind / "icm", seed, None)
            row("icm", agreement=agreement(icm, gold, set()), labelled=len(icm),
                labelled_true=statistics.mean(int(r["label"]) for r in icm.values()))  # fmt: skip
            anchors = gold_anchors(pool, seed)
            anch = label_run(args, data, root / kind / "icm-gold8", seed, anchors)
            row("icm+8 gold", agreement=agreement(anch, gold, set(anchors)),
                labelled=len(anch) - len(anchors))  # fmt: skip
        else:
            myth = myth_anchors(pool, seed)
            rule = {r["uid"]: int(r["words"] > statistics.median(p["words"] for p in pool))
                    for r in pool}  # fmt: skip
            run = label_run(args, data, root / kind / "icm-myth8", seed, myth)
            kept = sum(int(run[u]["label"]) == y for u, y in myth.items() if u in run)
            row("icm+8 myth", agreement=agreement(run, gold, set(myth)),
                myth_agreement=agreement(run, rule, set(myth)), myth_anchors_kept=kept,
                myth_anchors_right=sum(gold[u] == y for u, y in myth.items()),
                labelled=len(run) - len(myth))  # fmt: skip
    return rows


def report(path: Path) -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in read_jsonl(path):
        groups[(r["pool"], r["method"])].append(r)

    def cell(rows: list[dict[str, Any]], key: str) -> str:
        vals = [100 * float(r[key]) for r in rows if r.get(key) is not None]
        if not vals:
            return "-"
        sd = f" ± {statistics.stdev(vals):.1f}" if len(vals) > 1 else ""
        return f"{statistics.mean(vals):.1f}{sd}"

    print("| pool | method | seeds | claims judged (mean) | agreement with gold (%) | other |")
    print("|---|---|---|---|---|---|")
    for (pool, method), rows in groups.items():
        other = ""
        if method == "zero-shot":
            other = f"calibrated {cell(rows, 'calibrated')}, AUROC {cell(rows, 'auroc')}"
        elif method == "icm":
            other = f"labelled True {cell(rows, 'labelled_true')}"
        elif method == "icm+8 myth":
            kept = statistics.mean(r["myth_anchors_kept"] for r in rows)
            right = statistics.mean(r["myth_anchors_right"] for r in rows)
            other = (f"agrees with the myth {cell(rows, 'myth_agreement')}; myth anchors kept "
                     f"{kept:.1f} of {N_ANCHORS} ({right:.1f} of them true)")  # fmt: skip
        judged = statistics.mean(r["labelled"] for r in rows)
        print(
            f"| {pool} | {method} | {len(rows)} | {judged:.1f} | {cell(rows, 'agreement')} "
            f"| {other} |"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--pool", type=int, default=16)
    p.add_argument("--iterations", type=int, default=24)
    add_run_arguments(p, "stress")
    main_for(p, run_seed, report)


if __name__ == "__main__":
    main()
