"""The Hugging Face Hub as a source of a task's data files, pinned to a commit.

Each built-in data file (named as under the data root, e.g. "sst2/dev.tsv") that has a
counterpart on the Hub is a `HubFile`: a dataset repository, the file in it, a pinned commit and
an adapter that turns a row of the Hub file into the row the local file holds, so the task's
formatter (and every claim it writes) is the same whichever source is read. The `Source` gets
the local file's stem, so uids read "sst2/dev/17" either way.

Files are fetched with `huggingface_hub.hf_hub_download` at the full commit sha (it comes with
`datasets`, which is what users of this field have installed), in two tries: the local Hub cache
first, with no network (a cached copy counts as local data), then a download, only when the Hub
is reachable (`hub_reachable`: not switched off by HF_HUB_OFFLINE / HF_DATASETS_OFFLINE, and the
endpoint takes a TCP connection within a few seconds). Parquet files are read with pyarrow (a
dependency of `datasets`); CSV and JSONL files with `rows.read_source`, like local files.
Downloading by file rather than through `load_dataset` keeps the pin exact offline (the
`datasets` cache fallback ignores the revision) and works for repositories that still hold a
loading script, which recent `datasets` refuse to run. Every failure is a `HubUnavailable` with
the reason, so the caller can fall back to the next source.

    from elicit.tasks.hub import HUB_FILES, load_hub_file
    source = load_hub_file("sst2/dev.tsv", HUB_FILES["sst2/dev.tsv"])
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from elicit.tasks.rows import Row, Source, file_stem, make_source, read_source

Adapter = Callable[[Mapping[str, Any]], Mapping[str, Any]]

#: Seconds to wait for a TCP connection to the Hub before treating it as unreachable.
PROBE_TIMEOUT = 3.0


class HubUnavailable(Exception):
    """A Hub file could not be read (not cached and no network, no `datasets`, or an error)."""


def _same(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row


@dataclass(frozen=True)
class HubFile:
    """Where one local data file lives on the Hub, and how its rows map to the local ones."""

    repo: str  # a dataset repository id
    filename: str  # the file inside it
    revision: str  # a full commit sha
    adapt: Adapter = _same  # for parquet rows; CSV / JSONL files match the local ones

    @property
    def label(self) -> str:
        return f"{self.repo}/{self.filename}@{self.revision[:7]}"


# --------------------------------------------------------------------------- adapters


def _boolq(with_passage: bool) -> Adapter:
    # The local BoolQ copies (heddayam/kb-model-editing) hold "passage: P\nquestion: {}" with
    # braces in passages replaced by parentheses, and the answer as target_new.str.
    def adapt(row: Mapping[str, Any]) -> Mapping[str, Any]:
        passage = str(row["passage"]).replace("{", "(").replace("}", ")")
        prompt = f"passage: {passage}\nquestion: {{}}" if with_passage else "question: {}"
        answer = "True" if row["answer"] else "False"
        return {"prompt": prompt, "subject": row["question"], "target_new": {"str": answer}}

    return adapt


_ANLI_LABELS = {0: "e", 1: "n", 2: "c"}


def _anli(row: Mapping[str, Any]) -> Mapping[str, Any]:
    label = row["label"]
    return {
        "uid": row["uid"],
        "context": row["premise"],
        "hypothesis": row["hypothesis"],
        "label": _ANLI_LABELS.get(label, str(label)),
    }


def _imdb(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return {"text": row["text"], "label": "pos" if row["label"] == 1 else "neg"}


# --------------------------------------------------------------------------- the files

# Commits whose data are plain files (parquet, CSV, JSONL); cosmos_qa's is on the Hub's
# auto-converted parquet branch (its main branch holds only a loading script).
_SST2 = "8d51e7e4887a4caaa95b3fbebbf53c0490b58bbb"
_IMDB = "e6281661ce1c48d982bc483cf8a173c1bbeb5d31"
_BOOLQ = "35b264d03638db9f4ce671b711558bf7ff0f80d5"
_SCIQ = "2c94ad3e1aafab77146f384e23536f97a4849815"
_COSMOS = "ed50fe83db62b355759053b1cd5eef344ee371e0"
_ANLI = "8e4813d81f46d313dac7892e1c28076917cfcdf9"
_ETHICS = "b8b47c589f8bee77175b8648e5497278b68da48a"
_HH = "09be8c5bbc57cb3887f3a9732ad6aa7ec602a1fa"
_GSM8K = "740312add88f781978c0658806c59bc2815b9866"


def _parquet(split: str, folder: str = "data") -> str:
    return f"{folder}/{split}-00000-of-00001.parquet"


HUB_FILES: dict[str, HubFile] = {
    "sst2/train.tsv": HubFile("stanfordnlp/sst2", _parquet("train"), _SST2),
    "sst2/dev.tsv": HubFile("stanfordnlp/sst2", _parquet("validation"), _SST2),
    "imdb/test_500.csv": HubFile("stanfordnlp/imdb", _parquet("test", "plain_text"), _IMDB, _imdb),
    "boolq/train_no_context.jsonl": HubFile(
        "google/boolq", _parquet("train"), _BOOLQ, _boolq(False)
    ),
    "boolq/validation.jsonl": HubFile("google/boolq", _parquet("validation"), _BOOLQ, _boolq(True)),
    "sciq/validation.csv": HubFile("allenai/sciq", _parquet("validation"), _SCIQ),
    "sciq/test.csv": HubFile("allenai/sciq", _parquet("test"), _SCIQ),
    "cosmosqa/valid.jsonl": HubFile(
        "allenai/cosmos_qa", "default/validation/0000.parquet", _COSMOS
    ),
    **{
        f"anli/R{r}_{part}.jsonl": HubFile(
            "facebook/anli", _parquet(f"{part}_r{r}", "plain_text"), _ANLI, _anli
        )
        for r in (1, 2, 3)
        for part in ("dev", "test")
    },
    # The Hub repository holds upstream's CSVs (our "test" files are upstream's test.csv).
    "ethics/cm_test.csv": HubFile("hendrycks/ethics", "data/commonsense/test.csv", _ETHICS),
    **{
        f"ethics/{name}_{part}.csv": HubFile("hendrycks/ethics", f"data/{name}/{part}.csv", _ETHICS)
        for name in ("deontology", "justice", "virtue")
        for part in ("train", "test")
    },
    **{
        f"hh_rlhf/{name}_test.jsonl.gz": HubFile("Anthropic/hh-rlhf", f"{name}/test.jsonl.gz", _HH)
        for name in ("helpful-base", "helpful-online", "helpful-rejection-sampled")
    },
    "gsm8k/train.jsonl": HubFile("openai/gsm8k", _parquet("train", "main"), _GSM8K),
    "gsm8k/test.jsonl": HubFile("openai/gsm8k", _parquet("test", "main"), _GSM8K),
}


# --------------------------------------------------------------------------- loading


def _offline_by_env() -> bool:
    flags = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    return any(os.environ.get(f, "").strip().lower() in ("1", "true", "yes", "on") for f in flags)


@functools.cache
def _endpoint_answers(endpoint: str) -> bool:
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT):
            return True
    except OSError:
        return False


def hub_reachable() -> bool:
    """Whether a download may be tried: not switched off by env, and the endpoint answers."""
    if _offline_by_env():
        return False
    return _endpoint_answers(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))


def fetch(ref: HubFile, *, allow_download: bool) -> Path:
    """The local path of a Hub file: from the Hub cache, else (if allowed) downloaded."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise HubUnavailable("the `datasets` package (huggingface_hub) is not installed") from None
    args: dict[str, Any] = {"repo_type": "dataset", "revision": ref.revision}
    try:
        return Path(hf_hub_download(ref.repo, ref.filename, local_files_only=True, **args))
    except Exception:  # not cached (LocalEntryNotFoundError; the type varies by version)
        if not allow_download:
            raise HubUnavailable(f"{ref.label} is not in the local Hub cache") from None
    if not hub_reachable():
        raise HubUnavailable(f"{ref.label} is not cached and the Hub cannot be reached")
    try:
        return Path(hf_hub_download(ref.repo, ref.filename, **args))
    except Exception as err:
        raise HubUnavailable(f"{ref.label}: {type(err).__name__}: {err}") from None


def _parquet_rows(path: Path, ref: HubFile) -> list[Mapping[str, Any]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise HubUnavailable(
            "reading Hub parquet files needs pyarrow (pip install datasets)"
        ) from None
    try:
        table = pq.read_table(path)
    except Exception as err:
        raise HubUnavailable(f"{ref.label}: cannot read {path} ({err})") from None
    return [ref.adapt(row) for row in table.to_pylist()]


def load_hub_file(relative: str, ref: HubFile, *, allow_download: bool = True) -> Source:
    """The rows of one Hub file as the `Source` of the local file `relative`."""
    path = fetch(ref, allow_download=allow_download)
    stem = file_stem(Path(relative))
    if not ref.filename.endswith(".parquet"):
        source = read_source(path)
        return Source(f"hf:{ref.label}", stem, source.columns, source.rows, source.unit)
    raw = _parquet_rows(path, ref)
    if not raw:
        raise HubUnavailable(f"{ref.label} is empty")
    rows = [Row(index=i, line=i + 1, data=dict(r)) for i, r in enumerate(raw)]
    return make_source(f"hf:{ref.label}", stem, rows, "row")
