"""What an `elicit eval` run produces: per-method results, the run summary, and their forms.

    EvalSummary.rows()   -> results.json rows {task, model, method, accuracy, n, seed, ...}
    tidy_rows(summary)   -> results.jsonl `ResultRow`s (one metric per row)
    metrics_record(...)  -> metrics.json
    format_table(...)    -> the plain-text table printed after a run

Every row of one run carries the base model's name, so runs group by model; the chat
baseline's rows say which model actually scored them in `scored_by`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from elicit.evaluation.baselines import Agreement
from elicit.evaluation.metrics import wilson_interval
from elicit.evaluation.paper import PAPER_SOURCE, PaperResult
from elicit.evaluation.results import ResultRow


@dataclass(frozen=True)
class MethodResult:
    """One method's outcome. `skipped` holds the reason when it could not run.

    label_agreement: for many-shot sources, agreement with gold over the pool examples the
        source labels (for golden 1.0, for random over the demos); demo_agreement: the same over
        the demos actually placed in context.
    """

    method: str
    kind: str  # "zero-shot", "chat" or "many-shot"
    scored_by: str
    n: int
    n_demos: int = 0
    seconds: float = 0.0
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    label_agreement: Agreement | None = None
    demo_agreement: Agreement | None = None
    skipped: str | None = None
    #: (coverage, agreement with gold, n) of the source's most confident labels (sources
    #: whose labels file carries a "confidence"), see `baselines.coverage_agreement`.
    coverage: tuple[tuple[float, float, int], ...] = ()

    @property
    def accuracy(self) -> float | None:
        return self.metrics.get("accuracy")


@dataclass(frozen=True)
class EvalSummary:
    """Everything one `elicit eval` run measured, in method order.

    n_pool: pool examples usable as demos (labelled by every source, sampled to --pool-n);
    n_demos: how many of them fit the context; prompt_tokens: the longest many-shot prompt
    any method could send (each demo with its longest label word, the longest claim);
    context_limit: the budget it was fitted to; paper: the paper's numbers for this task.
    """

    out: Path
    task: str
    model: str
    split: str
    n: int
    seed: int
    results: tuple[MethodResult, ...]
    n_pool: int
    n_demos: int
    prompt_tokens: int
    context_limit: int
    demos_stopped_by: str
    pool_split: str
    chat_model: str
    paper: PaperResult | None
    seconds: float

    def result(self, method: str) -> MethodResult:
        return next(r for r in self.results if r.method == method)

    def rows(self) -> list[dict[str, Any]]:
        """results.json: one row per method, {task, model, method, accuracy, n, seed, ...}."""
        return [_row(self, r) for r in self.results]


def _row(s: EvalSummary, r: MethodResult) -> dict[str, Any]:
    m = r.metrics
    la, da = r.label_agreement, r.demo_agreement
    return {
        "task": s.task,
        "model": s.model,
        "method": r.method,
        "accuracy": m.get("accuracy"),
        "n": r.n,
        "seed": s.seed,
        "split": s.split,
        "accuracy_ci_low": m.get("accuracy_ci_low"),
        "accuracy_ci_high": m.get("accuracy_ci_high"),
        "calibrated_accuracy": m.get("calibrated_accuracy"),
        "auroc": m.get("auroc"),
        "frac_predicted_true": m.get("frac_predicted_true"),
        "kind": r.kind,
        "scored_by": r.scored_by,
        "n_demos": r.n_demos,
        "label_agreement": la.agreement if la else None,
        "label_agreement_n": la.n if la else None,
        "demo_label_agreement": da.agreement if da else None,
        "seconds": r.seconds,
        "skipped": r.skipped,
    }


def tidy_rows(summary: EvalSummary) -> list[ResultRow]:
    """results.jsonl: test metrics per method, and label agreement on the pool split."""
    rows: list[ResultRow] = []

    def add(
        r: MethodResult, split: str, n: int, metric: str, value: float | None, ci: bool = False
    ) -> None:
        low = high = None
        if ci and metric == "accuracy":
            low, high = r.metrics.get("accuracy_ci_low"), r.metrics.get("accuracy_ci_high")
        elif ci and value is not None:
            interval = wilson_interval(round(value * n), n)
            low, high = interval.low, interval.high
        rows.append(
            ResultRow(
                task=summary.task,
                model=summary.model,
                method=r.method,
                split=split,
                n=n,
                seed=summary.seed,
                metric=metric,
                value=float("nan") if value is None else float(value),
                ci_low=low,
                ci_high=high,
            )
        )

    for r in summary.results:
        if r.skipped is not None:
            continue
        for name in ("accuracy", "calibrated_accuracy", "auroc", "frac_predicted_true"):
            add(r, summary.split, r.n, name, r.metrics.get(name), ci=name == "accuracy")
        for metric, agr in (
            ("label_agreement", r.label_agreement),
            ("demo_label_agreement", r.demo_agreement),
        ):
            if agr is not None and agr.agreement is not None:
                add(r, summary.pool_split, agr.n, metric, agr.agreement, ci=True)
        for c, agreement, n_kept in r.coverage:
            add(r, summary.pool_split, n_kept, f"label_agreement_at_{round(100 * c)}", agreement)
    return rows


def metrics_record(summary: EvalSummary) -> dict[str, Any]:
    """metrics.json: the run's settings, every method's row, skips and the paper's numbers."""
    paper = summary.paper
    return {
        "task": summary.task,
        "model": summary.model,
        "chat_model": summary.chat_model,
        "split": summary.split,
        "n": summary.n,
        "seed": summary.seed,
        "pool_split": summary.pool_split,
        "n_pool": summary.n_pool,
        "n_demos": summary.n_demos,
        "demos_stopped_by": summary.demos_stopped_by,
        "prompt_tokens": summary.prompt_tokens,
        "context_limit": summary.context_limit,
        "seconds": summary.seconds,
        "methods": {r["method"]: r for r in summary.rows()},
        "skipped": {r.method: r.skipped for r in summary.results if r.skipped is not None},
        "paper": None if paper is None else {"model": paper.model, "accuracy": paper.accuracy},
        "paper_source": PAPER_SOURCE,
    }


def _pct(x: float | None) -> str:
    return "-" if x is None or np.isnan(x) else f"{100 * x:.1f}"


def format_table(summary: EvalSummary) -> str:
    """A compact plain-text table of the run, for the terminal."""
    head = (
        f"{summary.task} · {summary.model} · {summary.n} {summary.split} claims · seed "
        f"{summary.seed} · {summary.n_demos} demos ({summary.prompt_tokens} of "
        f"{summary.context_limit} tokens) · {summary.seconds:.0f} s"
    )
    paper = summary.paper
    cols = ["method", "acc %", "95% CI", "calib %", "AUROC", "labels=gold %", "demos", "s"]
    if paper is not None:
        cols.insert(6, "paper %")
    lines: list[list[str]] = [cols]
    for r in summary.results:
        if r.skipped is not None:
            lines.append([r.method, f"skipped: {r.skipped}"])
            continue
        m = r.metrics
        lo, hi = m.get("accuracy_ci_low"), m.get("accuracy_ci_high")
        auroc = m.get("auroc")
        agr = r.label_agreement.agreement if r.label_agreement else None
        row = [
            r.method,
            _pct(m.get("accuracy")),
            f"{_pct(lo)}-{_pct(hi)}",
            _pct(m.get("calibrated_accuracy")),
            "-" if auroc is None or np.isnan(auroc) else f"{auroc:.3f}",
            _pct(agr),
            str(r.n_demos) if r.kind == "many-shot" else "-",
            f"{r.seconds:.1f}",
        ]
        if paper is not None:
            value = paper.accuracy.get(r.method)
            row.insert(6, "-" if value is None else f"{value:.1f}")
        lines.append(row)
    full = [ln for ln in lines if len(ln) == len(cols)]
    widths = [max(len(ln[i]) for ln in full) for i in range(len(cols))]
    text = [head]
    for ln in lines:
        if len(ln) == len(cols):
            cells = [ln[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(ln[1:], widths[1:], strict=True)
            ]
            text.append("  ".join(cells))
        else:
            text.append(f"{ln[0].ljust(widths[0])}  {ln[1]}")
    if paper is not None:
        extra = [m for m in paper.accuracy if all(r.method != m for r in summary.results)]
        note = f"paper %: {paper.label}, {PAPER_SOURCE}"
        if extra:
            note += "; also " + ", ".join(f"{m} {paper.accuracy[m]:.1f}" for m in extra)
        text.append(note)
    return "\n".join(text)
