"""`elicit export`: a label run's labels as a file, a Hugging Face dataset, or preference pairs.

    elicit export runs/label/sst2-... --format jsonl --out sst2_icm.jsonl
    elicit export runs/label/sst2-... --format csv  --out sst2_icm.csv
    elicit export runs/label/sst2-... --format hf   --out sst2_icm/        # needs `datasets`
    elicit export runs/label/alpaca-comparison-... --format dpo --out pairs.jsonl

jsonl / csv / hf: one row per labelled claim: uid, prompt (the full claim prompt, ending in
"I think this claim is"), completion (the label word, " True" or " False", so prompt +
completion is the labelled text: TRL's prompt-completion format for SFT), label (1/0), and what
labels.jsonl adds (gold where the data has it, score, margin, anchor). labels.jsonl holds
no text, so the task is reloaded from the run's config.json (`examples`); `--data` points at
the data when it has moved.

dpo: comparison tasks only (alpaca-comparison, hh-comparison, truthfulqa-preference, or your
own claims with keys ab/ba). Each pair's two orders vote on which response wins
(`training.data.comparisons`); a pair whose two labels contradict each other is dropped. Rows
are {"prompt", "chosen", "rejected"} with prompt = the conversation + "\\n\\nAssistant:" and
each response after a space, the standard (non-conversational) preference format of TRL's
DPOTrainer: `datasets.load_dataset("json", data_files="pairs.jsonl")["train"]`.

`datasets` is not a dependency of elicit: --format hf asks for it when it is missing.

--push-to-hub USER/NAME also uploads the export to a Hugging Face dataset repository (created
if missing, --private to keep it private) through huggingface_hub, after writing it locally:
a jsonl/csv/dpo file goes up as that file (the hub's dataset viewer reads it), an hf folder as
the dataset itself (`Dataset.push_to_hub`, parquet shards). The token comes from $HF_TOKEN or
`hf auth login`; $HF_ENDPOINT points at another hub. A failed upload is an error that says the
local export is complete, so only the upload needs repeating.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from elicit.config import help_field
from elicit.errors import ConfigError, DataError
from elicit.labels import check_prompts, read_labels
from elicit.reporting.discover import read_config, read_jsonl_lenient
from elicit.reporting.examples import load_run_examples, prompts_for
from elicit.runs import atomic_write_jsonl, atomic_write_text
from elicit.tasks.base import Consistency

FORMATS = ("jsonl", "csv", "hf", "dpo")
#: Columns of the jsonl/csv/hf rows, in order (extra labels.jsonl keys follow).
COLUMNS = ("uid", "prompt", "completion", "label", "gold", "score", "margin", "anchor")
DPO_COLUMNS = ("prompt", "chosen", "rejected")


@dataclass(frozen=True)
class ExportConfig:
    """Options of `elicit export` (the run directory is a positional argument)."""

    format: str = help_field(
        "jsonl",
        "jsonl or csv file, hf (datasets.Dataset.save_to_disk folder), or dpo (prompt/chosen/"
        "rejected pairs as JSONL, comparison tasks only)",
        choices=list(FORMATS),
    )
    out: str | None = help_field(None, "file (jsonl, csv, dpo) or folder (hf) to write; required")
    data: str | None = help_field(
        None, "the run's data file, when it has moved since the run (none: the path in config.json)"
    )
    force: bool = help_field(False, "overwrite --out if it exists")
    push_to_hub: str | None = help_field(
        None,
        "also upload the export to this Hugging Face dataset repo (user/name; token from "
        "$HF_TOKEN or `hf auth login`)",
    )
    private: bool = help_field(False, "with --push-to-hub: create the repo as private")

    def __post_init__(self) -> None:
        if not self.out:
            suffix = {"hf": "/", "dpo": "_pairs.jsonl"}.get(self.format, f".{self.format}")
            raise ConfigError(f"--out is required: where to write, e.g. --out labels{suffix}")
        repo = self.push_to_hub
        if repo is not None and (repo.count("/") != 1 or not all(repo.split("/"))):
            raise ConfigError(
                f"--push-to-hub {repo!r} is not a repo id; give USER/NAME or ORG/NAME"
            )


@dataclass(frozen=True)
class ExportSummary:
    out: Path
    format: str
    n_rows: int
    n_dropped: int = 0  # dpo: labelled pairs without a preference (contradicting labels)
    url: str | None = None  # the dataset repo it was pushed to


def _label_run(run: Path) -> dict[str, Any]:
    config = read_config(run)
    if config is None:
        raise ConfigError(
            f"{run} is not an elicit run directory (no config.json); pass an `elicit label` run"
        )
    if not (run / "labels.jsonl").is_file():
        finish = " (it is unfinished: `elicit label ... --resume` completes it)" if (
            run / "checkpoints").is_dir() else ""  # fmt: skip
        raise ConfigError(
            f"{run} has no labels.jsonl{finish}; export reads the labels an `elicit label` run "
            "writes"
        )
    return config


def label_rows(run: Path, *, data: str | None = None) -> list[dict[str, Any]]:
    """The run's labels joined with their prompts, as exported by jsonl/csv/hf."""
    config = _label_run(run)
    labels = [r for r in read_jsonl_lenient(run / "labels.jsonl") if "uid" in r]
    examples = load_run_examples(run, config, data=data)
    prompts = prompts_for(examples, [str(r["uid"]) for r in labels], run=run)
    check_prompts(run, prompts, str(run))
    words = examples.label_words
    out = []
    for r in labels:
        uid, label = str(r["uid"]), int(r["label"])
        extra = {k: v for k, v in r.items() if k not in ("uid", "label")}
        out.append({"uid": uid, "prompt": prompts[uid], "completion": words[label],
                    "label": label, **extra})  # fmt: skip
    return out


def dpo_rows(run: Path, *, data: str | None = None) -> tuple[list[dict[str, str]], int]:
    """(prompt/chosen/rejected rows, pairs dropped for contradicting labels)."""
    from elicit.training.data import comparisons

    config = _label_run(run)
    examples = load_run_examples(run, config, data=data)
    if examples.consistency != Consistency.COMPARISON:
        raise ConfigError(
            f"{run}: task {examples.task!r} is not a comparison task, so its labels name no "
            "chosen and rejected response. --format dpo needs a comparison task "
            "(alpaca-comparison, hh-comparison, truthfulqa-preference, or claims with keys "
            "ab/ba); use --format jsonl for other tasks"
        )
    labels = read_labels(run)
    # every labelled uid must still be in the data, with the text it had when labelled
    check_prompts(run, prompts_for(examples, list(labels), run=run), str(run))
    pairs, dropped = comparisons(examples.examples, {u: float(v) for u, v in labels.items()})
    rows = []
    for pair in pairs:
        a_wins = pair.p_a_wins > 0.5
        chosen, rejected = (pair.response_a, pair.response_b) if a_wins else (
            pair.response_b, pair.response_a)  # fmt: skip
        # prompt + chosen is the dialogue the reward model reads (training.data.reward_text).
        rows.append({"prompt": f"{pair.context}\n\nAssistant:", "chosen": f" {chosen}",
                     "rejected": f" {rejected}"})  # fmt: skip
    return rows, dropped


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    present = dict.fromkeys(k for r in rows for k in r)
    return [c for c in COLUMNS if c in present] + [c for c in present if c not in COLUMNS]


#: A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...),
#: +cmd|...): claims text is untrusted, so such text cells get a leading apostrophe, which
#: spreadsheets show as text and hide (OWASP's advice for CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV; text cells that a spreadsheet would run as a formula are made inert."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_columns(rows), lineterminator="\n")
    writer.writeheader()
    # prompts span lines: the csv module quotes them
    writer.writerows({k: _inert(v) for k, v in r.items()} for r in rows)
    atomic_write_text(path, buf.getvalue())


def datasets_available() -> bool:
    return importlib.util.find_spec("datasets") is not None


def write_hf(path: Path, rows: list[dict[str, Any]]) -> None:
    if not datasets_available():
        raise ConfigError(
            "--format hf needs the Hugging Face `datasets` package, which is not installed. "
            "Install it with `pip install datasets`, or export --format jsonl and load that with "
            "datasets.load_dataset('json', data_files=PATH)"
        )
    import datasets

    columns = _columns(rows)
    # Every row gets every column, so a key missing from some rows is null, not a schema error.
    full = [{c: r.get(c) for c in columns} for r in rows]
    datasets.Dataset.from_list(full).save_to_disk(str(path))


def _check_out(out: Path, config: ExportConfig) -> None:
    """Refuse an existing --out without --force; with it, clear the way for the new export."""
    folder = config.format == "hf"
    if out.exists() and out.is_dir() != folder:
        raise ConfigError(
            f"--out {out} is a {'file' if folder else 'folder'}; --format {config.format} "
            f"writes a {'folder' if folder else 'file'}: choose another path"
        )
    if not out.exists():
        return
    if not config.force:
        raise ConfigError(f"--out {out} exists; pass --force to overwrite it or choose another")
    if folder:
        shutil.rmtree(out)  # save_to_disk would refuse to write into a non-empty folder


def push_to_hub(out: Path, config: ExportConfig) -> str:
    """Upload the export at `out` to the dataset repo `config.push_to_hub`; its URL."""
    repo = config.push_to_hub
    assert repo is not None
    try:
        from huggingface_hub import HfApi
    except ImportError as e:  # a dependency of transformers; missing only in a bare install
        raise ConfigError("--push-to-hub needs huggingface_hub: pip install huggingface_hub") from e
    api = HfApi()
    try:
        url = str(api.create_repo(repo, repo_type="dataset", private=config.private,
                                  exist_ok=True))  # fmt: skip
        if config.format == "hf":
            import datasets

            datasets.load_from_disk(str(out)).push_to_hub(repo, private=config.private)
        else:
            api.upload_file(
                path_or_fileobj=str(out), path_in_repo=out.name, repo_id=repo,
                repo_type="dataset", commit_message=f"elicit export ({config.format})",
            )  # fmt: skip
    except Exception as e:  # network, auth and hub errors all end the same way
        raise DataError(
            f"--push-to-hub {repo}: the upload failed ({type(e).__name__}: {e}). The export "
            f"itself is complete in {out}; log in (`hf auth login` or $HF_TOKEN) and rerun "
            "with --force --push-to-hub to upload it"
        ) from e
    return url


def run_export(run_dir: str | Path, config: ExportConfig) -> ExportSummary:
    """Export the labels of `run_dir` as `config.format` to `config.out` (and upload it with
    --push-to-hub)."""
    summary = _export(run_dir, config)
    if config.push_to_hub is None:
        return summary
    return replace(summary, url=push_to_hub(summary.out, config))


def _export(run_dir: str | Path, config: ExportConfig) -> ExportSummary:
    run = Path(run_dir)
    assert config.out is not None  # __post_init__
    out = Path(config.out)
    if config.format == "hf" and not datasets_available():
        write_hf(out, [])  # raises the error that says how to install it, before any work
    if config.format == "dpo":
        pairs, dropped = dpo_rows(run, data=config.data)
        if not pairs:
            raise DataError(
                f"{run}: no labelled pair has a preference ({dropped} pair(s) have contradicting "
                "labels); nothing to export"
            )
        _check_out(out, config)
        atomic_write_jsonl(out, pairs)
        return ExportSummary(out, "dpo", len(pairs), dropped)
    rows = label_rows(run, data=config.data)
    _check_out(out, config)
    if config.format == "jsonl":
        atomic_write_jsonl(out, rows)
    elif config.format == "csv":
        write_csv(out, rows)
    else:
        write_hf(out, rows)
    return ExportSummary(out, config.format, len(rows))


__all__ = [
    "FORMATS",
    "ExportConfig",
    "ExportSummary",
    "datasets_available",
    "dpo_rows",
    "label_rows",
    "push_to_hub",
    "run_export",
    "write_csv",
    "write_hf",
]
