"""Build the data samples that ship inside the package (src/elicit/data/samples/).

    python scripts/build_samples.py --data /path/to/full/data      # writes the samples
    python scripts/build_samples.py --data /path/to/full/data --check   # rebuilds in memory
                                                                        # and compares

Only datasets whose licence allows redistribution are sampled (MIT, CC BY, CC BY-SA); the
others are listed in NOTICE.md with where to get them. Each sample file keeps the full file's
format and name (gzip-compressed, so a loader reads it like the original), holds whole
consistency groups (every row of a group, never part of one), keeps the rows in their original
order and is drawn with a fixed seed per file, so a rebuild from the same full data gives the
same bytes. MANIFEST.json records, per file, its source, licence, how it was sampled and the
sha256 of its uncompressed content; NOTICE.md is written from it.

The full data folder is the one described in the repository's data notes (PROVENANCE.md and
MANIFEST.tsv there name each file's upstream repository and commit).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "elicit" / "data" / "samples"
SEED = "elicit-samples-v1"


@dataclass(frozen=True)
class Dataset:
    name: str
    licence: str
    upstream: str
    attribution: str
    changes: str


@dataclass(frozen=True)
class SampleFile:
    relative: str  # path under the data root, as the task loaders name it
    dataset: Dataset
    rows: int  # at least this many rows, in whole groups
    group: Callable[[dict[str, str]], str] | None = None  # rows with one value stay together
    tasks: tuple[str, ...] = ()


HH = Dataset(
    "Anthropic HH-RLHF (helpful subsets, test splits)",
    "MIT",
    "github.com/anthropics/hh-rlhf (copies from DaehanKim/EasyRLHF @ 45eccb7)",
    "Bai et al. 2022, Training a Helpful and Harmless Assistant with RLHF. "
    "Copyright (c) 2022 Anthropic.",
    "random subset of rows",
)
BOOLQ = Dataset(
    "BoolQ",
    "CC BY-SA 3.0",
    "github.com/google-research-datasets/boolean-questions (reformatted copies from "
    "heddayam/kb-model-editing @ fcdc13f)",
    "Clark et al. 2019, BoolQ: Exploring the Surprising Difficulty of Natural Yes/No "
    "Questions. Licensed under CC BY-SA 3.0; this sample is shared under the same licence.",
    "reformatted upstream by heddayam/kb-model-editing (passage and question in one prompt "
    "field, braces replaced; the train file keeps questions only); random subset of rows",
)
COSMOS = Dataset(
    "Cosmos QA (dev set)",
    "CC BY 4.0",
    "wilburone.github.io/cosmos (copy from declare-lab/TEAM @ e43753f)",
    "Huang et al. 2019, Cosmos QA: Machine Reading Comprehension with Contextual "
    "Commonsense Reasoning. Licensed under CC BY 4.0.",
    "random subset of rows",
)
ETHICS = Dataset(
    "ETHICS",
    "MIT",
    "github.com/hendrycks/ethics (copies from oughtinc/ice @ 5449543)",
    "Hendrycks et al. 2021, Aligning AI With Shared Human Values. MIT licence, copyright "
    "the ETHICS authors (the upstream repository holds the licence file).",
    "random subset of whole scenario groups (deontology: a request with all its excuses; "
    "virtue: a scenario with all its traits), rows re-written by Python's csv module",
)
GSM8K = Dataset(
    "GSM8K",
    "MIT",
    "github.com/openai/grade-school-math @ 3101c7d",
    "Cobbe et al. 2021, Training Verifiers to Solve Math Word Problems. Copyright (c) 2021 OpenAI.",
    "random subset of rows",
)


def _request(row: dict[str, str]) -> str:
    return row["scenario"].strip()


def _scenario(row: dict[str, str]) -> str:
    return row["scenario"].rpartition("[SEP]")[0].strip()


HH_TASK = ("hh-comparison",)
FILES: tuple[SampleFile, ...] = (
    SampleFile("hh_rlhf/helpful-base_test.jsonl.gz", HH, 100, tasks=HH_TASK),
    SampleFile("hh_rlhf/helpful-online_test.jsonl.gz", HH, 100, tasks=HH_TASK),
    SampleFile("hh_rlhf/helpful-rejection-sampled_test.jsonl.gz", HH, 100, tasks=HH_TASK),
    SampleFile("boolq/train_no_context.jsonl", BOOLQ, 400, tasks=("boolq",)),
    SampleFile("boolq/validation.jsonl", BOOLQ, 300, tasks=("boolq",)),
    SampleFile("cosmosqa/valid.jsonl", COSMOS, 150, tasks=("cosmosqa",)),
    SampleFile("ethics/cm_test.csv", ETHICS, 600, tasks=("ethics-commonsense",)),
    SampleFile("ethics/deontology_train.csv", ETHICS, 300, _request, ("ethics-deontology",)),
    SampleFile("ethics/deontology_test.csv", ETHICS, 300, _request, ("ethics-deontology",)),
    SampleFile("ethics/justice_train.csv", ETHICS, 300, tasks=("ethics-justice",)),
    SampleFile("ethics/justice_test.csv", ETHICS, 300, tasks=("ethics-justice",)),
    SampleFile("ethics/virtue_train.csv", ETHICS, 300, _scenario, ("ethics-virtue",)),
    SampleFile("ethics/virtue_test.csv", ETHICS, 300, _scenario, ("ethics-virtue",)),
    SampleFile("gsm8k/train.jsonl", GSM8K, 300, tasks=("self-improve: gsm8k",)),
    SampleFile("gsm8k/test.jsonl", GSM8K, 300, tasks=("self-improve: gsm8k",)),
)

#: Licence files copied next to the samples (the MIT licences name their copyright holder).
LICENCE_FILES = {"hh_rlhf/LICENSE": "LICENSE-hh-rlhf", "gsm8k/LICENSE": "LICENSE-gsm8k"}

#: What is not bundled, and why; NOTICE.md lists it with where to get the full data.
NOT_BUNDLED = (
    (
        "truthfulqa, truthfulqa-preference, gsm8k-verification, alpaca-comparison",
        "the ICM paper's files (Wen et al. 2025) carry no licence upstream",
        "the data release linked from github.com/Jiaxin-Wen/Unsupervised-Elicitation",
    ),
    ("sst2", "SST-2: no licence stated (Hugging Face card: unknown)", "hub: stanfordnlp/sst2"),
    ("imdb", "no licence stated", "hub: stanfordnlp/imdb"),
    ("sciq", "CC BY-NC 3.0 (non-commercial)", "hub: allenai/sciq"),
    ("anli", "CC BY-NC 4.0 (non-commercial)", "hub: facebook/anli"),
    (
        "blog-gender",
        "non-commercial research use only",
        "the Blog Authorship Corpus (Schler et al. 2006); a local copy through --data",
    ),
)


# ------------------------------------------------------------------------------ reading


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _jsonl_records(raw: bytes) -> tuple[bytes, list[bytes], list[dict[str, str]]]:
    lines = [line for line in raw.splitlines(keepends=True) if line.strip()]
    return b"", lines, [json.loads(line) for line in lines]


def _csv_records(raw: bytes) -> tuple[bytes, list[bytes], list[dict[str, str]]]:
    text = raw.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header, body = rows[0], rows[1:]

    def encode(row: list[str]) -> bytes:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(row)
        return buf.getvalue().encode("utf-8")

    return (
        encode(header),
        [encode(r) for r in body],
        [dict(zip(header, r, strict=True)) for r in body],
    )


def sample_file(spec: SampleFile, root: Path) -> tuple[bytes, int, int]:
    """The sample's uncompressed bytes, its row count and the full file's row count."""
    raw = _read_bytes(root / spec.relative)
    plain = spec.relative.removesuffix(".gz")
    reader = _csv_records if plain.endswith(".csv") else _jsonl_records
    header, records, rows = reader(raw)
    groups: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(spec.group(row) if spec.group else str(i), []).append(i)
    order = sorted(groups)
    random.Random(f"{SEED}/{spec.relative}").shuffle(order)
    chosen: list[int] = []
    for key in order:
        if len(chosen) >= spec.rows:
            break
        chosen.extend(groups[key])
    body = b"".join(records[i] for i in sorted(chosen))
    return header + body, len(chosen), len(records)


# ------------------------------------------------------------------------------ writing


def sample_name(relative: str) -> str:
    return relative if relative.endswith(".gz") else relative + ".gz"


def notice(manifest: dict[str, object]) -> str:
    files = manifest["files"]
    assert isinstance(files, list)
    lines = [
        "# Bundled data samples: sources, licences, checksums",
        "",
        "elicit ships small samples of the benchmarks whose licences allow redistribution, so",
        "that `elicit demo`, the README's commands and the test suite work on a fresh install.",
        "They were drawn by `scripts/build_samples.py` from the full files named below; rerun",
        "it on the full data to regenerate them (`--check` compares without writing). Full",
        "data comes from `--data`, `$ELICIT_DATA_DIR` or the Hugging Face Hub (`elicit tasks`).",
        "",
        "| sample | tasks | dataset | licence | rows (of full file) | sha256 of the uncompressed file |",
        "|---|---|---|---|---|---|",
    ]
    for entry in files:
        lines.append(
            f"| {entry['file']} | {', '.join(entry['tasks'])} | {entry['dataset']} | "
            f"{entry['licence']} | {entry['rows']} (of {entry['rows_in_source']}) | "
            f"`{entry['sha256']}` |"
        )
    lines += ["", "## Sources and attribution", ""]
    for ds in (HH, BOOLQ, COSMOS, ETHICS, GSM8K):
        lines += [
            f"- **{ds.name}** ({ds.licence}): {ds.attribution} Source: {ds.upstream}. "
            f"Changes: {ds.changes}.",
        ]
    lines += [
        "",
        f"Sampling: whole groups in a seeded order (`random.Random('{SEED}/<file>')`), taken "
        "until the row count is reached; rows keep their original order and bytes (CSV rows "
        "are re-quoted by Python's csv writer). The MIT licence texts are in "
        + ", ".join(f"`{v}`" for v in LICENCE_FILES.values())
        + "; CC BY-SA 3.0: https://creativecommons.org/licenses/by-sa/3.0/ ; CC BY 4.0: "
        "https://creativecommons.org/licenses/by/4.0/ .",
        "",
        "## Not bundled",
        "",
        "| tasks | why | where to get the data |",
        "|---|---|---|",
    ]
    for tasks, why, where in NOT_BUNDLED:
        lines.append(f"| {tasks} | {why} | {where} |")
    return "\n".join(lines) + "\n"


def build(root: Path) -> dict[str, bytes]:
    """Every output file (relative name -> bytes), built in memory."""
    outputs: dict[str, bytes] = {}
    entries = []
    for spec in FILES:
        content, rows, total = sample_file(spec, root)
        name = sample_name(spec.relative)
        outputs[name] = gzip.compress(content, compresslevel=9, mtime=0)
        entries.append(
            {
                "file": name,
                "source_file": spec.relative,
                "tasks": list(spec.tasks),
                "dataset": spec.dataset.name,
                "licence": spec.dataset.licence,
                "rows": rows,
                "rows_in_source": total,
                "sha256": hashlib.sha256(content).hexdigest(),
            }
        )
    for source, target in LICENCE_FILES.items():
        outputs[target] = (root / source).read_bytes()
    manifest = {"seed": SEED, "files": entries}
    outputs["MANIFEST.json"] = (json.dumps(manifest, indent=1) + "\n").encode()
    outputs["NOTICE.md"] = notice(manifest).encode()
    return outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the full data folder")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    outputs = build(args.data)
    if args.check:
        manifest = json.loads(outputs["MANIFEST.json"])
        differ = []
        for entry in manifest["files"]:
            path = args.out / entry["file"]
            have = (
                hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
                if path.is_file()
                else None
            )
            if have != entry["sha256"]:
                differ.append(entry["file"])
        print("samples match the full data" if not differ else f"differ: {', '.join(differ)}")
        return 1 if differ else 0
    for name, data in outputs.items():
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    total = sum(len(d) for d in outputs.values())
    print(f"wrote {len(outputs)} files, {total / 1e6:.2f} MB, under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
