"""`elicit`: the command-line entry point.

    elicit models                       registered models (cached?) and backends (available?)
    elicit tasks                        registered tasks, their data files and consistency rule
    elicit score --task sst2 --n 100    zero-shot accuracy of the default model
    elicit label --task sst2 --n 32     ICM: label training claims without labels
    elicit eval --task sst2 --labels runs/label/...   baselines and many-shot with labels
    elicit demo                         a small ICM run and its evaluation, end to end

Every command takes `--help`. Options of a command come from its config dataclass; any of them
can also come from `--config file.yaml` (flags override the file). User errors print one
paragraph and exit with status 2; Ctrl-C exits with 130 and leaves no half-written run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from elicit import __version__
from elicit.config import add_config_arguments, config_from_args
from elicit.errors import ElicitError

Handler = Callable[[argparse.Namespace], int]


def _cmd_models(args: argparse.Namespace) -> int:
    from elicit.models import MODELS, model_status

    rows = [
        (
            spec.name + (" (default)" if spec.is_default else ""),
            spec.kind,
            model_status(spec.name),
            spec.description,
        )
        for spec in MODELS.values()
    ]
    _print_table(("model", "kind", "status", "description"), rows)
    print("\nAny Hugging Face model id or local model directory also works as --model.\n")
    _print_table(("backend", "status", "use"), _backend_rows())
    return 0


#: How each backend is selected, for `elicit models`.
_BACKEND_USE = {
    "hf": "--backend hf (auto): a registered name, HF model id or local directory",
    "llamacpp": "--backend llamacpp: a registered name or a .gguf file, run in-process",
    "openai": "--model openai:<base_url>/<model>: an OpenAI-compatible completions server",
    "fake": "scripted stand-in for tests (no model)",
}


def _backend_rows() -> list[tuple[str, str, str]]:
    from elicit.backends import BACKENDS, backend_status

    # Described backends first, in that order; any other registered one after them.
    names = [b for b in _BACKEND_USE if b in BACKENDS] + [
        b for b in BACKENDS if b not in _BACKEND_USE
    ]
    rows = []
    for name in names:
        why = backend_status(name)
        status = "available" if why is None else f"not available: {why}"
        rows.append((name, status, _BACKEND_USE.get(name, "")))
    return rows


def _cmd_tasks(args: argparse.Namespace) -> int:
    from elicit.tasks import TASKS

    rows = [(spec.name, str(spec.consistency), spec.description) for spec in TASKS.values()]
    _print_table(("task", "consistency", "description"), rows)
    print("\nData is read from $ELICIT_DATA_DIR (default ../shared/data); --data overrides it.")
    return 0


def _cmd_score(args: argparse.Namespace) -> int:
    from elicit.evaluation.score import ScoreConfig, run_score

    config = config_from_args(ScoreConfig, args)
    summary = run_score(config)
    m = summary.metrics
    print(
        f"{config.task} ({config.split}, n={summary.n}, model={config.model}): "
        f"accuracy {_pct(m['accuracy'])} "
        f"[95% CI {_pct(m['accuracy_ci_low'])}-{_pct(m['accuracy_ci_high'])}], "
        f"calibrated accuracy {_pct(m['calibrated_accuracy'])}, AUROC {_num(m['auroc'])}, "
        f"predicted True {_pct(m['frac_predicted_true'])}"
    )
    print(f"results written to {summary.out}/")
    return 0


def _cmd_label(args: argparse.Namespace) -> int:
    from elicit.search.label import LabelConfig, run_label

    config = config_from_args(LabelConfig, args)
    summary = run_label(config)
    m = summary.metrics
    agreement = m.get("agreement")
    print(
        f"{config.task} ({config.split}): ICM labelled {m.get('n_labelled')} of {summary.n} "
        f"claims, energy {_num(m.get('energy'))}, inconsistencies {m.get('inconsistencies')}"
        + (f", agreement with gold {_pct(agreement)}" if agreement is not None else "")
    )
    print(f"labels written to {summary.out}/labels.jsonl")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from elicit.evaluation.evaluate import EvalConfig, run_eval
    from elicit.evaluation.summary import format_table

    config = config_from_args(EvalConfig, args)
    summary = run_eval(config)
    print(format_table(summary))
    print(f"results written to {summary.out}/")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from elicit.demo import DemoConfig, format_demo, run_demo

    config = config_from_args(DemoConfig, args)
    print(
        f"elicit demo: ICM on {config.n} {config.task} training claims ({config.iterations} "
        f"iterations), then {config.test_n} test claims scored by each method, "
        f"model {config.model}. A few minutes on a CPU."
    )
    print(format_demo(run_demo(config)))
    return 0


def _pct(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "n/a" if x is None or x != x else f"{x:.3f}"


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def build_parser() -> argparse.ArgumentParser:
    from elicit.demo import DemoConfig
    from elicit.evaluation.evaluate import EvalConfig
    from elicit.evaluation.score import ScoreConfig
    from elicit.search.label import LabelConfig

    parser = argparse.ArgumentParser(
        prog="elicit",
        description=(
            "Elicit what a pretrained language model already knows about a task: "
            "label data without human labels (ICM), learn from weak labels, self-improve."
        ),
    )
    parser.add_argument("--version", action="version", version=f"elicit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "models", help="list registered models and backends, and whether each can run here"
    )
    p.set_defaults(handler=_cmd_models)
    p = sub.add_parser("tasks", help="list registered tasks")
    p.set_defaults(handler=_cmd_tasks)
    p = sub.add_parser(
        "score",
        help="zero-shot accuracy of a model on a task",
        description=(
            "Score each example's claim zero-shot: the model's log P(' True') - log P(' False') "
            "after 'I think this claim is'. Prints accuracy (threshold 0), calibrated accuracy "
            "(threshold at the median score, no gold used) and AUROC; writes predictions.jsonl, "
            "metrics.json and tidy results.jsonl to --out."
        ),
    )
    add_config_arguments(p, ScoreConfig)
    p.set_defaults(handler=_cmd_score)
    p = sub.add_parser(
        "label",
        help="ICM: label claims without labels (Internal Coherence Maximization)",
        description=(
            "Search for the labelling the model finds most mutually predictable and consistent "
            "(Wen et al. 2025). Writes labels.jsonl, trace.jsonl, metrics.json and "
            "energy_plot.png to --out; checkpoints as it goes (--resume continues). Variants "
            "where the paper and its released code differ are flags (--mp, --schedule, "
            "--init-balanced, --skip-same, --context-order); metrics.json records which ran."
        ),
    )
    add_config_arguments(p, LabelConfig)
    p.set_defaults(handler=_cmd_label)
    p = sub.add_parser(
        "eval",
        help="accuracy on held-out claims: zero-shot, chat, many-shot with golden/random/ICM labels",
        description=(
            "Score the task's test claims with each method: zero-shot (base model), zero-shot "
            "chat (--chat-model), and many-shot prompts built from the same demonstrations "
            "with golden, random, or your labels (--labels RUN_DIR or NAME=labels.jsonl). "
            "Writes results.json, results.jsonl, predictions.jsonl and accuracy.png to --out."
        ),
    )
    add_config_arguments(p, EvalConfig)
    p.set_defaults(handler=_cmd_eval)
    p = sub.add_parser(
        "demo",
        help="a small ICM run on the default model and its evaluation table, end to end",
        description=(
            "Label SST-2 training claims with ICM, then compare zero-shot, zero-shot chat, "
            "golden, random and ICM many-shot accuracy on test claims. Finishes in minutes on "
            "a CPU; runs go to --out (an interrupted demo resumes)."
        ),
    )
    add_config_arguments(p, DemoConfig)
    p.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Third-party INFO chatter (transformers, httpx) would drown our own messages.
    for name in ("transformers", "httpx", "urllib3", "filelock"):
        logging.getLogger(name).setLevel(logging.WARNING)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except ElicitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; no partial results were written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
