"""The task registry, the data root, and `sample`."""

from __future__ import annotations

from pathlib import Path

import pytest

from elicit.errors import ConfigError, DataError
from elicit.tasks import (
    TASKS,
    Example,
    LoadOptions,
    TaskData,
    TaskSpec,
    data_root,
    get_task,
    load_task,
    register,
    sample,
    task_names,
)
from elicit.tasks.common import check_split


def test_registry_lists_every_task() -> None:
    names = task_names()
    assert names == sorted(TASKS)
    for expected in ("truthfulqa", "gsm8k-verification", "alpaca-comparison", "claims", "sst2"):
        assert expected in names
    assert all(isinstance(get_task(n), TaskSpec) and get_task(n).description for n in names)


def test_unknown_task_suggests_closest() -> None:
    with pytest.raises(ConfigError) as info:
        get_task("truthfullqa")
    msg = str(info.value)
    assert (
        "'truthfullqa'" in msg
        and "Did you mean 'truthfulqa'" in msg
        and "gsm8k-verification" in msg
    )


def test_register_rejects_duplicates_and_adds_new() -> None:
    with pytest.raises(ValueError):
        register(get_task("sst2"))

    def loader(options: LoadOptions) -> TaskData:
        return TaskData("toy", (Example("toy/0", "x\nI think this claim is", "toy/0"),))

    spec = TaskSpec("toy", "a toy", get_task("sst2").consistency, {}, loader)
    try:
        register(spec)
        assert load_task("toy").examples[0].uid == "toy/0"
    finally:
        del TASKS["toy"]


def test_bad_split() -> None:
    with pytest.raises(ConfigError, match="--split"):
        check_split("dev")
    with pytest.raises(ConfigError, match="--split"):
        load_task("sst2", LoadOptions(split="validation"))


def test_data_root_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path / "missing"))
    with pytest.raises(DataError, match="ELICIT_DATA_DIR"):
        data_root()


def test_data_root_missing_default_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ELICIT_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError) as info:
        load_task("imdb")
    assert "imdb/test_500.csv" in str(info.value) and "--data FILE" in str(info.value)


def test_data_root_is_never_guessed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # A shared/data folder around the working directory used to be taken silently.
    monkeypatch.delenv("ELICIT_DATA_DIR", raising=False)
    work = tmp_path / "repo"
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (work / "shared" / "data").mkdir(parents=True)
    monkeypatch.chdir(work)
    with pytest.raises(DataError, match="ELICIT_DATA_DIR is not set"):
        data_root()


# ---------------------------------------------------------------- sample


def toy(groups: list[int]) -> TaskData:
    """Examples in groups of the given sizes; gold alternates."""
    examples = []
    for g, size in enumerate(groups):
        for k in range(size):
            examples.append(Example(f"t/{g}/{k}", "p\nI think this claim is", f"g{g}", str(k)))
    gold = {ex.uid: i % 2 for i, ex in enumerate(examples)}
    return TaskData("t", tuple(examples), gold)


def test_sample_all_and_more_than_all() -> None:
    data = toy([2, 3, 1])
    assert sample(data, None, 0) is data
    assert sample(data, 6, 0) is data
    assert sample(data, 100, 0, keep_groups=True) is data


def test_sample_zero_and_negative() -> None:
    data = toy([2, 3])
    for keep in (False, True):
        empty = sample(data, 0, 1, keep_groups=keep)
        assert len(empty) == 0 and not empty.gold
    with pytest.raises(ConfigError):
        sample(data, -1, 0)


def test_sample_is_seeded_and_keeps_order_and_gold() -> None:
    data = toy([1] * 50)
    a, b, c = sample(data, 10, 7), sample(data, 10, 7), sample(data, 10, 8)
    assert a == b and a != c and len(a) == 10
    positions = [data.examples.index(ex) for ex in a]
    assert positions == sorted(positions)
    assert dict(a.gold) == {ex.uid: data.gold[ex.uid] for ex in a}


def test_sample_keep_groups_takes_whole_groups() -> None:
    data = toy([4, 4, 4, 4, 1, 1])
    for seed in range(20):
        picked = sample(data, 5, seed, keep_groups=True)
        assert 5 <= len(picked) <= 5 + 4 - 1
        sizes = {ex.group: 0 for ex in picked}
        for ex in picked:
            sizes[ex.group] += 1
        full = {ex.group: 0 for ex in data}
        for ex in data:
            full[ex.group] += 1
        assert all(sizes[g] == full[g] for g in sizes)
    assert sample(data, 5, 3, keep_groups=True) == sample(data, 5, 3, keep_groups=True)


def test_sample_partial_gold() -> None:
    data = toy([1, 1, 1, 1])
    partial = TaskData("t", data.examples, {data.examples[0].uid: 1})
    picked = sample(partial, 3, 0)
    assert set(picked.gold) <= {ex.uid for ex in picked}
