"""`elicit demo`: a small end-to-end ICM run, then the evaluation table.

1. `elicit label`: ICM labels a pool of training claims without any labels.
2. `elicit eval`: on held-out test claims, zero-shot, zero-shot chat and many-shot prompting
   with golden, random and the ICM labels, side by side.

The demo reads only data that ships with elicit (`--data bundled`), so its table is the same on
every machine, with or without a data folder or the Hub. Its defaults come from the
measurements in docs/RESULTS.md ("Screening" and "`elicit demo`"): the smallest model on which
labels in the context matter is Qwen2.5-Coder-0.5B-Instruct (gemma-3-270m, the library's
default, scores golden and random demonstrations alike, so ICM has nothing to find with it),
and of the tasks that need no download the one where its golden demonstrations clearly beat
random ones is `reviews` (generated in code). The search uses balanced leave-one-out with
--complete, the setting for small models that count labels. Sizes are set so that the whole demo
finishes in about 10 minutes on a 2-core CPU; raise --n / --iterations / --test-n on a GPU.

    elicit demo
    elicit demo --model gemma-3-270m --task boolq    # any model, any bundled task
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path

from elicit.backends.base import LM
from elicit.commands.evaluate import EvalConfig, run_eval
from elicit.commands.label import LabelConfig, LabelSummary, run_label
from elicit.config import help_field
from elicit.errors import ConfigError
from elicit.evaluation.metrics import wilson_interval
from elicit.evaluation.summary import EvalSummary, format_table
from elicit.options import LMOptions
from elicit.runs import is_finished
from elicit.search import MP_KINDS, MPKind, SearchConfig
from elicit.tasks.sources import BUNDLED

#: The demo's model: see the module docs.
DEMO_MODEL = "qwen2.5-coder-0.5b-instruct"


@dataclass(frozen=True)
class DemoConfig(LMOptions):
    model: str = help_field(
        DEMO_MODEL,
        "registered model name (`elicit models`; fetched on first use), HF model id or local "
        "path; the default is the smallest on which ICM has something to find",
    )
    backend: str = help_field(
        "llamacpp", "model backend: llamacpp (GGUF, fast on CPU), hf, or auto"
    )
    task: str = help_field(
        "reviews", "task to label and evaluate; one that ships with elicit (`elicit tasks`)"
    )
    mp: MPKind = help_field(
        "balanced",
        "ICM's mutual predictability (`elicit label --help`); balanced suits small models",
        choices=MP_KINDS,
    )
    n: int = help_field(24, "training claims ICM labels (its pool)")
    iterations: int = help_field(48, "ICM search iterations")
    test_n: int = help_field(100, "held-out test claims every method is scored on")
    seed: int = help_field(0, "random seed for sampling, initial labels and search")
    out: str = help_field("runs/demo", "directory for the label and eval runs")
    force: bool = help_field(False, "redo runs that already finished")
    progress: bool = help_field(True, "show progress bars")

    def __post_init__(self) -> None:
        super().__post_init__()
        from elicit.tasks import bundled_tasks

        if self.task not in bundled_tasks():
            raise ConfigError(
                f"elicit demo reads only the samples that ship with elicit, and task "
                f"{self.task!r} has none. Pick one of {', '.join(bundled_tasks())}, or run "
                "`elicit label` and `elicit eval` on it (they read --data or ELICIT_DATA_DIR)."
            )
        for name in ("n", "iterations", "test_n"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")

    def _lm_fields(self) -> dict[str, object]:
        return {
            "model": self.model,
            "backend": self.backend,
            "lm_batch_size": self.lm_batch_size,
            "device": self.device,
            "dtype": self.dtype,
            "max_length": self.max_length,
            "cache": self.cache,
        }

    def label_config(self) -> LabelConfig:
        return LabelConfig(
            task=self.task,
            data=BUNDLED,
            split="train",
            n=self.n,
            seed=self.seed,
            # --complete: every pool claim gets a label, so ICM's demonstrations match golden's.
            search=SearchConfig(iterations=self.iterations, mp=self.mp, complete=True),
            out=str(Path(self.out) / "label"),
            force=self.force,
            resume=self.resume_label,
            progress=self.progress,
            **self._lm_fields(),  # type: ignore[arg-type]
        )

    @property
    def resume_label(self) -> bool:
        # An interrupted demo picks up its ICM run where it stopped.
        label_dir = Path(self.out) / "label"
        return not self.force and (label_dir / "config.json").exists()

    def eval_config(self) -> EvalConfig:
        return EvalConfig(
            task=self.task,
            data=BUNDLED,
            split="test",
            n=self.test_n,
            seed=self.seed,
            labels=f"icm={Path(self.out) / 'label'}",
            pool_split="train",
            pool_n=None,  # every ICM-labelled claim is in the pool; golden/random match them
            out=str(Path(self.out) / "eval"),
            force=self.force,
            progress=self.progress,
            **self._lm_fields(),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class DemoSummary:
    label: LabelSummary
    eval: EvalSummary
    seconds: float


def run_demo(config: DemoConfig, lm: LM | None = None, chat_lm: LM | None = None) -> DemoSummary:
    """Label, then evaluate, sharing one loaded model. `lm`/`chat_lm` override the models."""
    start = time.perf_counter()
    lm = lm or config.load_lm(config.progress)
    label_config = config.label_config()
    label_dir = label_config.out_dir()
    if is_finished(label_dir) and not config.force:
        # Running the demo again reuses its finished ICM run; evaluation is redone (it is
        # deterministic and takes a minute), so the printed table is always complete.
        label = LabelSummary.read(label_dir)
        eval_config = dataclasses.replace(config.eval_config(), force=True)
    else:
        label = run_label(label_config, lm=lm)
        eval_config = config.eval_config()
    evaluation = run_eval(eval_config, lm=lm, chat_lm=chat_lm)
    return DemoSummary(label=label, eval=evaluation, seconds=time.perf_counter() - start)


def _calibrated(summary: EvalSummary, method: str) -> float | None:
    r = next((r for r in summary.results if r.method == method and r.skipped is None), None)
    value = r.metrics.get("calibrated_accuracy") if r is not None else None
    return None if value is None or math.isnan(value) else 100 * value


def reading(summary: EvalSummary) -> str:
    """What the table says about ICM, in words, from its own numbers (calibrated accuracy:
    the threshold-free comparison, as in docs/RESULTS.md)."""
    icm, golden, random = (_calibrated(summary, m) for m in ("icm", "golden", "random"))
    if icm is None or golden is None or random is None:
        return "Reading: a many-shot method was skipped, so ICM cannot be compared here."
    if golden - random < 5:
        verdict = (
            f"golden and random demonstrations score alike ({golden:.0f} vs {random:.0f}), so "
            "this model barely reads the labels in its context and ICM has little to find "
            "(docs/RESULTS.md, 'Screening')."
        )
    else:
        share = (icm - random) / (golden - random)
        how_far = (
            "as good as gold labels"
            if share >= 1
            else f"{100 * share:.0f}% of the way from random labels to gold"
            if share > 0
            else "no better than random labels"
        )
        verdict = (
            f"ICM's labels, found without any, score {icm:.0f} against golden {golden:.0f} and "
            f"random {random:.0f}: {how_far}."
        )
    n = summary.n
    # Half the widest 95% interval an accuracy on n claims can have (at 50%): the CI column's.
    widest = wilson_interval(n // 2, n)
    noise = 100 * (widest.high - widest.low) / 2
    return (
        f"Reading (calibrated accuracy): {verdict} With {n} test claims one number is only "
        f"good to about +/-{noise:.0f} points; docs/RESULTS.md has three seeds."
    )


def format_demo(summary: DemoSummary) -> str:
    m = summary.label.metrics
    agreement = m.agreement
    lines = [
        f"ICM labelled {m.n_labelled} of {m.n} training claims"
        + (f"; agreement with gold {100 * agreement:.1f}%" if agreement is not None else ""),
        "",
        format_table(summary.eval),
        "",
        reading(summary.eval),
        "",
        f"runs: {summary.label.out}/ (labels.jsonl, trace.jsonl, energy_plot.png) and "
        f"{summary.eval.out}/ (results.json, accuracy.png); {summary.seconds:.0f} s in all",
    ]
    return "\n".join(lines)
