"""Where task data comes from: --data, $ELICIT_DATA_DIR, the Hub (a local cache), the samples.

The Hub is never contacted: its path is tested on a Hugging Face cache laid out in a temporary
folder (the real `hf_hub_download`, offline), and on a stand-in for the download itself.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest

from elicit.errors import DataError
from elicit.tasks import (
    LoadOptions,
    bundled_tasks,
    data_availability,
    get_task,
    load_task,
    sample,
)
from elicit.tasks import hub as hub_module
from elicit.tasks.hub import HUB_FILES, HubFile
from elicit.tasks.sources import BUNDLED, Origin, sample_path, samples_dir

SAMPLES = samples_dir()


def test_every_bundled_file_matches_its_manifest_checksum() -> None:
    manifest = json.loads((SAMPLES / "MANIFEST.json").read_text())
    notice = (SAMPLES / "NOTICE.md").read_text()
    assert manifest["files"]
    for entry in manifest["files"]:
        content = gzip.decompress((SAMPLES / entry["file"]).read_bytes())
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], entry["file"]
        assert entry["file"] in notice and entry["sha256"] in notice
        assert entry["licence"] in ("MIT", "CC BY 4.0", "CC BY-SA 3.0")
    on_disk = {str(p.relative_to(SAMPLES)) for p in SAMPLES.rglob("*.gz")}
    assert on_disk == {e["file"] for e in manifest["files"]}


def test_bundled_tasks_are_the_redistributable_ones() -> None:
    assert bundled_tasks() == [
        "boolq",
        "cosmosqa",
        "ethics-commonsense",
        "ethics-deontology",
        "ethics-justice",
        "ethics-virtue",
        "hh-comparison",
        "reviews",  # generated in code
    ]


def test_without_env_or_hub_the_bundled_sample_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELICIT_DATA_DIR", raising=False)
    for split in ("train", "test"):
        data = load_task("boolq", LoadOptions(split=split))
        assert data.origin == Origin.BUNDLED
        assert len(data) >= 300 and data.has_gold


def test_no_data_folder_is_guessed_around_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A shared/data folder next to the working directory used to be read silently.
    (tmp_path / "shared" / "data" / "sst2").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "sst2" / "dev.tsv").write_text("label\tcontent\n1\tgood\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("ELICIT_DATA_DIR", raising=False)
    with pytest.raises(DataError) as err:
        load_task("sst2")
    message = str(err.value)
    # One error naming the three ways, and why no sample ships.
    assert "--data" in message and "ELICIT_DATA_DIR" in message and "Hub" in message
    assert "stanfordnlp/sst2" in message and "no licence" in message


def test_env_dir_comes_before_the_hub_and_the_sample(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "ethics").mkdir()
    (tmp_path / "ethics" / "justice_test.csv").write_text(
        "label,scenario\n1,I paid him because he mowed my lawn.\n"
        "0,I paid him because he has red hair.\n"
    )
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path))
    data = load_task("ethics-justice", LoadOptions(split="test"))
    assert data.origin == Origin.ENV and len(data) == 2
    # --data bundled ignores the folder.
    bundled = load_task("ethics-justice", LoadOptions(split="test", data=BUNDLED))
    assert bundled.origin == Origin.BUNDLED and len(bundled) > 2


def test_env_dir_without_the_task_falls_through_with_a_notice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="elicit"):
        data = load_task("ethics-justice", LoadOptions(split="train"))
    assert data.origin == Origin.BUNDLED
    assert "ethics/justice_train.csv" in caplog.text


def test_env_that_is_not_a_folder_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(DataError, match=r"ELICIT_DATA_DIR=.*not a directory"):
        load_task("boolq")


def test_data_bundled_refuses_a_task_without_a_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match=r"no sample of it ships.*CC BY-NC"):
        load_task("sciq", LoadOptions(data=BUNDLED))


def test_asking_for_more_than_the_sample_holds_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = load_task("ethics-virtue", LoadOptions(split="test"))
    with caplog.at_level(logging.WARNING, logger="elicit"):
        assert sample(data, len(data) + 10, seed=0) is data
    assert "bundled sample holds" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="elicit"):
        sample(data, 5, seed=0)
    assert not caplog.text


# ------------------------------------------------------------------------ the Hub, offline


def _cache_file(cache: Path, ref: HubFile, content: bytes) -> None:
    """Lay out one file of a dataset repository as huggingface_hub's cache holds it."""
    repo = cache / f"datasets--{ref.repo.replace('/', '--')}"
    blob = repo / "blobs" / hashlib.sha256(content).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(content)
    target = repo / "snapshots" / ref.revision / ref.filename
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(blob)
    (repo / "refs").mkdir(exist_ok=True)


@pytest.fixture
def hub_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("ELICIT_DATA_DIR", raising=False)
    return cache


def _write_parquet(rows: list[dict[str, object]]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def test_a_cached_hub_file_is_read_without_network(hub_cache: Path) -> None:
    pytest.importorskip("huggingface_hub")
    pytest.importorskip("pyarrow")
    rows = [
        {"question": "is the sky blue", "answer": True, "passage": "The sky {is} blue."},
        {"question": "is grass red", "answer": False, "passage": "Grass is green."},
    ]
    _cache_file(hub_cache, HUB_FILES["boolq/validation.jsonl"], _write_parquet(rows))
    data = load_task("boolq", LoadOptions(split="test"))
    assert data.origin == Origin.HUB
    assert [ex.uid for ex in data.examples] == ["boolq/validation/0", "boolq/validation/1"]
    # The adapter rebuilds the local file's rows, so the claims read as the local ones do.
    assert data.examples[0].prompt.startswith("Passage: The sky (is) blue.\nQuestion: Is the sky")
    assert sorted(data.gold.values()) in ([0, 1], [0, 0], [1, 1])
    # The train split is not cached: it comes from the bundled sample.
    assert load_task("boolq", LoadOptions(split="train")).origin == Origin.BUNDLED
    assert data_availability("boolq").origin == Origin.BUNDLED
    # With both splits cached, `elicit tasks` reports the Hub and counts its claims.
    _cache_file(hub_cache, HUB_FILES["boolq/train_no_context.jsonl"], _write_parquet(rows))
    found = data_availability("boolq")
    assert found.origin == Origin.HUB and "(cached)" in found.where
    assert (found.train, found.test) == (2, 2)
    # A cached copy of a CSV file (ETHICS) reads like the local file.
    _cache_file(
        hub_cache,
        HUB_FILES["ethics/justice_test.csv"],
        b"label,scenario\n1,I paid him because he mowed my lawn.\n",
    )
    justice = load_task("ethics-justice", LoadOptions(split="test"))
    assert justice.origin == Origin.HUB and len(justice) == 1
    assert justice.examples[0].uid == "ethics-justice/justice_test/0"


def test_hub_download_is_tried_only_when_reachable(
    hub_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("huggingface_hub")
    pytest.importorskip("pyarrow")
    calls: list[tuple[str, str, bool]] = []
    served = tmp_path / "served.parquet"
    served.write_bytes(_write_parquet([{"question": "q?", "answer": "#### 4"}]))

    def download(repo: str, filename: str, **kw: object) -> str:
        calls.append((repo, str(kw.get("revision")), bool(kw.get("local_files_only"))))
        if kw.get("local_files_only"):
            raise FileNotFoundError("not cached")
        return str(served)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(hub_module, "hub_reachable", lambda: False)
    with pytest.raises(DataError, match="no data found"):
        load_task("sst2")
    assert all(local for _, _, local in calls)  # only cache lookups, no download
    calls.clear()
    monkeypatch.setattr(hub_module, "hub_reachable", lambda: True)
    ref = HUB_FILES["gsm8k/test.jsonl"]
    source = hub_module.load_hub_file("gsm8k/test.jsonl", ref)
    assert calls == [(ref.repo, ref.revision, True), (ref.repo, ref.revision, False)]
    assert source.stem == "test" and source.rows[0].data["answer"] == "#### 4"


def test_hub_switched_off_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_module.hub_reachable()


def test_every_hub_file_is_pinned_to_a_full_commit() -> None:
    for relative, ref in HUB_FILES.items():
        assert len(ref.revision) == 40 and int(ref.revision, 16) >= 0, relative
    # Every task with a Hub copy names a file the registry knows.
    for name in ("sst2", "imdb", "boolq", "sciq", "cosmosqa", "anli", "hh-comparison"):
        files = [f for fs in get_task(name).data_files.values() for f in fs]
        assert all(f in HUB_FILES for f in files), name


def test_availability_lists_source_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELICIT_DATA_DIR", raising=False)
    boolq = data_availability("boolq")
    assert boolq.origin == Origin.BUNDLED and boolq.train and boolq.test
    sst2 = data_availability("sst2")
    assert sst2.origin == "" and "no licence" in sst2.where and sst2.train is None
    assert data_availability("claims").where.startswith("your own file")


def test_a_built_wheel_carries_the_samples(tmp_path: Path) -> None:
    # An editable install reads src/ directly, so only a real wheel shows that the package-data
    # globs in pyproject.toml take every sample, its manifest and its notice.
    import subprocess
    import sys
    import zipfile

    root = Path(__file__).resolve().parents[2]
    build = tmp_path / "src"
    shutil.copytree(
        root, build, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "*.egg-info")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(build)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("elicit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = json.loads((SAMPLES / "MANIFEST.json").read_text())
    expected = {f"elicit/data/samples/{e['file']}" for e in manifest["files"]}
    expected |= {"elicit/data/samples/NOTICE.md", "elicit/data/samples/MANIFEST.json"}
    assert expected <= names
    assert sample_path("boolq/validation.jsonl") is not None
