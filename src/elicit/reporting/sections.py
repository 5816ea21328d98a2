"""The sections of one run in the HTML report, each a function of the run directory.

    configuration   config.json as a table
    metrics         metrics.json's numbers (nested records flattened one level)
    results         results.jsonl pivoted: one row per method, one column per metric
    label runs      energy / agreement curves (energy_plot.png, or drawn from trace.jsonl or an
                    interrupted run's checkpoint traces), confusion of labels against gold,
                    the least confident examples with their text
    eval runs       method comparison bars (accuracy.png, or drawn from the rows), each
                    method's predictions against gold
    w2s runs        w2s.png (accuracy, agreement), PGR bars drawn from the rows
    train runs      the loss curve (train_log.jsonl)
    any run         every other PNG the run wrote

A section with nothing to show returns "" and is left out; what a section cannot show for a
reason the reader should know (no gold, data moved) becomes a note instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from elicit.errors import ElicitError
from elicit.evaluation.results import ResultRow
from elicit.labels import MARGIN, OLD_MARGIN, check_prompts
from elicit.reporting import plots
from elicit.reporting.discover import (
    RunInfo,
    label_checkpoints,
    read_json,
    read_jsonl_lenient,
    result_rows,
)
from elicit.reporting.examples import ExamplesCache, load_run_examples
from elicit.reporting.page import esc, fmt, image, note, table

#: Metrics shown first in results tables, in this order; any others follow alphabetically.
METRIC_ORDER = ("accuracy", "calibrated_accuracy", "auroc", "pairwise_accuracy", "pgr",
                "pgr_auroc", "agreement", "label_agreement", "demo_label_agreement")  # fmt: skip
#: Metrics that are fractions (shown as percentages).
_PERCENT = ("accuracy", "agreement", "pgr", "coverage", "frac", "rate")


def is_percent(metric: str) -> bool:
    return any(word in metric for word in _PERCENT) and "seconds" not in metric


def order_metrics(names: set[str]) -> list[str]:
    return [m for m in METRIC_ORDER if m in names] + sorted(names - set(METRIC_ORDER))


def configuration(info: RunInfo) -> str:
    rows = [(k, json.dumps(v) if isinstance(v, dict | list) else fmt(v))
            for k, v in sorted(info.config.items())]  # fmt: skip
    return _box("Configuration", table(("option", "value"), rows, cls="config"))


def metrics(run: Path) -> str:
    data = read_json(run / "metrics.json")
    if not isinstance(data, dict):
        return ""
    rows: list[tuple[str, Any]] = []
    for key, value in sorted(data.items()):
        if isinstance(value, dict):
            for sub, v in sorted(value.items()):
                rows.append((f"{key}.{sub}", _cell(v)))
        else:
            rows.append((key, _cell(value)))
    return _box("Metrics (metrics.json)", table(("metric", "value"), rows, cls="config"))


def _box(title: str, content: str) -> str:
    # <details> folds without any script; open, so a printed or screenshotted page shows it.
    return f"<details open><summary><b>{esc(title)}</b></summary>{content}</details>"


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        text = json.dumps(value)
        return text if len(text) <= 300 else text[:300] + " ..."
    return fmt(value)


def pivot(rows: Sequence[ResultRow]) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of a methods x metrics table from tidy result rows."""
    metric_names = order_metrics({r.metric for r in rows})
    by_method: dict[str, dict[str, ResultRow]] = {}
    n: dict[str, int] = {}
    for r in rows:
        by_method.setdefault(r.method, {})[r.metric] = r
        n.setdefault(r.method, r.n)
    out = []
    for method, cells in by_method.items():
        line: list[Any] = [method, n[method]]
        for m in metric_names:
            line.append(value_text(cells.get(m), m))
        out.append(line)
    return ["method", "n", *metric_names], out


def value_text(row: ResultRow | None, metric: str) -> str:
    if row is None:
        return ""
    # NaN is what a null value reads as (`ResultRow.from_dict`): shown as missing, as before.
    value = None if math.isnan(row.value) else row.value
    low, high = row.ci_low, row.ci_high
    pct = is_percent(metric)
    text = fmt(value, percent=pct)
    if low is not None and high is not None:
        text += f" [{fmt(low, percent=pct)}, {fmt(high, percent=pct)}]"
    return text


def _known(row: ResultRow) -> bool:
    return not math.isnan(row.value)


def results(run: Path) -> str:
    rows = result_rows(run)
    if not rows:
        return ""
    header, body = pivot(rows)
    return "<h3>Results</h3>" + table(header, body)


# ---------------------------------------------------------------------- label runs


def label_trace(run: Path) -> list[dict[str, Any]]:
    """trace.jsonl, or for an interrupted run the traces its batch checkpoints hold so far."""
    rows = read_jsonl_lenient(run / "trace.jsonl")
    if rows:
        return rows
    out: list[dict[str, Any]] = []
    for b, path in enumerate(sorted((run / "checkpoints").glob("batch-*/trace.jsonl"))):
        out += [{"batch": b, **r} for r in read_jsonl_lenient(path) if "energy" in r]
    return out


def label_curves(info: RunInfo) -> str:
    title = "<h3>Energy and label agreement with gold</h3>"
    saved = info.path / "energy_plot.png"
    if saved.is_file():
        return title + image(saved, "energy and agreement against iterations")
    rows = [r for r in label_trace(info.path) if "energy" in r]
    if not rows:
        return title + note("no trace yet: the search has not reached its first checkpoint")
    done = label_checkpoints(info.path)
    caption = (
        f"drawn from the checkpoints of the interrupted run ({len(done)} batch(es) so far)"
        if info.status != "finished"
        else "drawn from trace.jsonl"
    )
    return title + note(caption) + image(plots.trace_png(rows, f"ICM on {info.task}"), "trace")


def confusion(labels: Sequence[Mapping[str, Any]]) -> str:
    """Labels against gold: a 2 x 2 table plus the labels without gold."""
    counts = {(g, y): 0 for g in (1, 0, None) for y in (1, 0)}
    for r in labels:
        g = r.get("gold")
        y = r.get("label")
        if y in (0, 1):
            counts[(g if g in (0, 1) else None, int(y))] += 1
    known = sum(v for (g, _), v in counts.items() if g is not None)
    if known == 0:
        return "<h3>Labels against gold</h3>" + note(
            f"no gold label for any of the {len(labels)} labelled examples, so no confusion"
        )
    right = counts[(1, 1)] + counts[(0, 0)]
    rows = [
        ("gold True", counts[(1, 1)], counts[(1, 0)]),
        ("gold False", counts[(0, 1)], counts[(0, 0)]),
    ]
    if counts[(None, 1)] + counts[(None, 0)]:
        rows.append(("no gold", counts[(None, 1)], counts[(None, 0)]))
    return (
        "<h3>Labels against gold</h3>"
        + table(("", "labelled True", "labelled False"), rows)
        + f"<p>agreement with gold: {esc(right)} of {esc(known)} "
        f"({esc(fmt(right / known, percent=True))}); the search never saw these gold labels.</p>"
    )


def least_confident(
    info: RunInfo,
    labels: Sequence[Mapping[str, Any]],
    k: int,
    texts: bool,
    cache: ExamplesCache | None = None,
) -> str:
    """The k labels the run is least sure of: smallest confidence margin, else smallest |score|."""
    if not labels or k <= 0:
        return ""
    # The margin's field; an older `elicit label` wrote it as "confidence".
    margin = next((k for k in (MARGIN, OLD_MARGIN) if any(k in r for r in labels)), None)
    by_margin = margin is not None and any(isinstance(r.get(margin), int | float) for r in labels)
    key = margin if by_margin and margin is not None else "score"

    def sure(r: Mapping[str, Any]) -> float:
        # A margin is signed (negative: the other label would raise the energy), as in the
        # label run's own suggestions.jsonl; a score's sign is the label, its size the certainty.
        v = r.get(key)
        if not isinstance(v, int | float):
            return float("inf")
        return float(v) if by_margin else abs(float(v))

    chosen = sorted(labels, key=lambda r: (sure(r), str(r.get("uid"))))[:k]
    prompts, why = _texts(info, texts, cache)
    rows = [
        (
            esc(r.get("uid")),
            esc(fmt(r.get("label"))),
            esc(fmt(r.get("gold"))),
            esc(fmt(sure(r))),
            f'<div class="claim">{esc(prompts.get(str(r.get("uid")), ""))}</div>',
        )
        for r in chosen
    ]
    what = ("confidence margin (energy the label is worth)" if by_margin
            else "|score| (final leave-one-out log-odds)")  # fmt: skip
    return (
        f"<h3>Least confident examples ({len(chosen)} of {len(labels)})</h3>"
        + f"<p>ordered by {esc(what)}, smallest first: the labels a human check settles most.</p>"
        + (note(why) if why else "")
        + table(("uid", "label", "gold", key, "claim"), rows, raw_cells=True)
    )


def _texts(info: RunInfo, wanted: bool, cache: ExamplesCache | None) -> tuple[dict[str, str], str]:
    """uid -> prompt for the run's examples, and why there are none when there are none."""
    prompts: dict[str, str] = {}
    for r in read_jsonl_lenient(info.path / "suggestions.jsonl"):
        if "prompt" in r:
            prompts[str(r["uid"])] = str(r["prompt"])
    if not wanted:
        return prompts, "" if prompts else "claim texts not loaded (--no-texts)"
    try:
        data = load_run_examples(info.path, info.config, cache=cache)
        now = {ex.uid: ex.prompt for ex in data.examples}
        check_prompts(info.path, now, str(info.path))
    except ElicitError as e:  # the data is gone, or edited: no text beats the wrong text
        return prompts, f"claim texts unavailable: {e}"
    prompts.update(now)
    return prompts, ""


def label_sections(info: RunInfo, k: int, texts: bool, cache: ExamplesCache | None = None) -> str:
    labels = read_jsonl_lenient(info.path / "labels.jsonl")
    parts = [label_curves(info)]
    if labels:
        parts += [confusion(labels), least_confident(info, labels, k, texts, cache)]
    elif info.status != "finished":
        parts.append(note("no labels.jsonl yet: the run writes its labels when it finishes"))
    return "".join(parts)


# ---------------------------------------------------------------------- other kinds


def eval_sections(info: RunInfo) -> str:
    rows = result_rows(info.path)
    saved = info.path / "accuracy.png"
    title = "<h3>Method comparison</h3>"
    if saved.is_file():
        out = title + image(saved, "accuracy per method")
    else:
        acc = [(r.method, r.value) for r in rows if r.metric == "accuracy" and _known(r)]
        out = (
            title + image(plots.bars_png(acc, f"{info.task}", "test accuracy"), "accuracy")
            if acc
            else ""
        )
    return out + predictions_confusion(info.path)


def predictions_confusion(run: Path) -> str:
    """Per method: predictions (threshold 0) against gold, the eval run's confusion."""
    counts: dict[str, list[int]] = {}
    for r in read_jsonl_lenient(run / "predictions.jsonl"):
        g, p, m = r.get("gold"), r.get("prediction"), r.get("method")
        if m is None or g not in (0, 1) or p not in (0, 1):
            continue
        c = counts.setdefault(str(m), [0, 0, 0, 0])
        c[(1 - int(g)) * 2 + (1 - int(p))] += 1  # order: TT, TF, FT, FF (gold, predicted)
    if not counts:
        return ""
    rows = [(m, *c, fmt((c[0] + c[3]) / max(1, sum(c)), percent=True)) for m, c in counts.items()]
    header = ("method", "gold T, pred T", "gold T, pred F", "gold F, pred T", "gold F, pred F",
              "accuracy")  # fmt: skip
    return "<h3>Predictions against gold</h3>" + table(header, rows)


def w2s_sections(info: RunInfo) -> str:
    rows = result_rows(info.path)
    out = ""
    saved = info.path / "w2s.png"
    if saved.is_file():
        out += "<h3>Accuracy and student-supervisor agreement</h3>"
        out += image(saved, "weak-to-strong accuracy and agreement")
    for metric, what in (("pgr", "accuracy"), ("pgr_auroc", "AUROC")):
        values = [(r.method, r.value) for r in rows if r.metric == metric and _known(r)]
        if values:
            out += f"<h3>Performance gap recovered ({esc(what)})</h3>"
            out += image(plots.bars_png(values, f"PGR on {what}: (w2s - weak) / (ceiling - weak)",
                                        f"PGR ({what})"), f"PGR on {what}")  # fmt: skip
    return out


def train_sections(info: RunInfo) -> str:
    log = [r for r in read_jsonl_lenient(info.path / "train_log.jsonl") if "loss" in r]
    if not log:
        return ""
    return "<h3>Training loss</h3>" + image(plots.loss_png(log, f"{info.task}"), "training loss")


#: PNGs the kind-specific sections already show.
SHOWN = {"energy_plot.png", "accuracy.png", "w2s.png"}


def other_plots(run: Path) -> str:
    out = ""
    for p in sorted(run.glob("*.png")):
        if p.name not in SHOWN and not p.name.startswith("."):
            out += f"<h3>{esc(p.name)}</h3>" + image(p, p.name)
    return out


__all__ = [
    "configuration",
    "confusion",
    "eval_sections",
    "label_sections",
    "least_confident",
    "metrics",
    "order_metrics",
    "other_plots",
    "pivot",
    "results",
    "train_sections",
    "value_text",
    "w2s_sections",
]
