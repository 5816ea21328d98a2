"""Every task with a bundled sample loads it with the promised structure.

The samples ship with the package (`elicit/data/samples`), so nothing here depends on a data
folder; the same checks over the full data of every task are `benchmarks/data_check.py`. Each
(task, split) is loaded once per module; determinism is checked by loading every split again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import pytest

from elicit.tasks import (
    CLAIM_SUFFIX,
    Consistency,
    LoadOptions,
    TaskData,
    bundled_tasks,
    carve,
    get_task,
    load_task,
)
from elicit.tasks.common import POOL
from elicit.tasks.sources import BUNDLED, Origin, sample_path

BUILTIN = bundled_tasks()

#: Accepted True fraction per task (min, max), over train and test. Tasks whose claims are
#: single-answer MC are unbalanced by construction (cosmosqa 1 of 4, ethics-virtue 1 of 5 on
#: test, fewer on train).
BALANCE = defaultdict(
    lambda: (0.35, 0.65),
    {"cosmosqa": (0.24, 0.26), "ethics-virtue": (0.05, 0.25), "truthfulqa": (0.4, 0.5)},
)

_CACHE: dict[tuple[str, str], TaskData] = {}


def loaded(name: str, split: str) -> TaskData:
    if (name, split) not in _CACHE:
        _CACHE[name, split] = load_task(name, LoadOptions(split=split, data=BUNDLED))
    return _CACHE[name, split]


@pytest.fixture(
    scope="module", params=[(n, s) for n in BUILTIN for s in ("train", "test")], ids=str
)
def task_split(request: pytest.FixtureRequest) -> tuple[str, str, TaskData]:
    name, split = request.param
    return name, split, loaded(name, split)


def test_examples_are_well_formed(task_split: tuple[str, str, TaskData]) -> None:
    name, _, data = task_split
    origin = Origin.GENERATED if get_task(name).generated else Origin.BUNDLED
    assert data.task == name and data.origin == origin
    assert len(data) > 100
    uids = [ex.uid for ex in data]
    assert len(set(uids)) == len(uids)
    assert all(uid.startswith(f"{name}/") for uid in uids)
    assert all(ex.prompt.endswith(CLAIM_SUFFIX) and not ex.prompt.endswith(" ") for ex in data)
    assert all(ex.prompt.count(CLAIM_SUFFIX) >= 1 and ex.group for ex in data)
    assert data.has_gold and set(data.gold.values()) == {0, 1}
    assert data.consistency == get_task(name).consistency


def test_label_balance(task_split: tuple[str, str, TaskData]) -> None:
    name, split, data = task_split
    frac = sum(data.gold.values()) / len(data.gold)
    low, high = BALANCE[name]
    assert low <= frac <= high, f"{name}/{split}: {frac:.3f} True"


def test_consistency_structure(task_split: tuple[str, str, TaskData]) -> None:
    name, _, data = task_split
    groups: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for ex in data:
        groups[ex.group].append((ex.key, data.gold[ex.uid]))
    if data.consistency is Consistency.COMPARISON:
        for members in groups.values():
            assert sorted(k for k, _ in members) == ["ab", "ba"]
            assert sorted(g for _, g in members) == [0, 1]
    elif data.consistency is Consistency.ANSWER:
        for members in groups.values():
            true_keys = {k for k, g in members if g == 1}
            assert len(true_keys) <= 1, f"{name}: two different answers both True"
            assert all(k for k, _ in members)
    else:
        assert name not in ("alpaca-comparison", "hh-comparison", "gsm8k-verification")


def test_comparison_keys_do_not_predict_gold() -> None:
    data = loaded("hh-comparison", "test")
    ab_true = sum(data.gold[ex.uid] for ex in data if ex.key == "ab")
    frac = ab_true / (len(data) // 2)
    assert 0.4 < frac < 0.6, f"key 'ab' is True {frac:.2f} of the time"
    assert all(ex.uid.endswith("/" + ex.key) for ex in data)  # uid = pair + order only
    first = [data.gold[ex.uid] for i, ex in enumerate(data.examples) if i % 2 == 0]
    assert 0.4 < sum(first) / len(first) < 0.6, "file position predicts gold"


def test_cosmosqa_has_one_true_answer_of_four() -> None:
    data = loaded("cosmosqa", "test")
    sizes = Counter(Counter(ex.group for ex in data).values())
    assert sizes == {4: len(data) // 4}
    assert sum(data.gold.values()) == len(data) // 4


@pytest.mark.parametrize("name", BUILTIN)
def test_loading_is_deterministic(name: str) -> None:
    for split in ("train", "test"):
        again = load_task(name, LoadOptions(split=split))
        assert again == loaded(name, split)


@pytest.mark.parametrize("name", [n for n in BUILTIN if POOL in get_task(n).data_files])
def test_carved_splits_partition_groups(name: str) -> None:
    train, test = loaded(name, "train"), loaded(name, "test")
    train_groups, test_groups = {ex.group for ex in train}, {ex.group for ex in test}
    assert not train_groups & test_groups
    assert not {ex.uid for ex in train} & {ex.uid for ex in test}
    assert all(carve(name, g) == "test" for g in test_groups)
    everything = load_task(name, LoadOptions(split="all"))
    assert len(everything) == len(train) + len(test)


def test_sample_groups_are_whole() -> None:
    # The build script keeps every excuse of a request and every trait of a scenario.
    for name, size in (("ethics-deontology", 4), ("ethics-virtue", 5)):
        data = loaded(name, "test")
        sizes = Counter(Counter(ex.group for ex in data).values())
        assert max(sizes, key=sizes.__getitem__) == size, (name, sizes)


def test_data_dir_override_with_directory(tmp_path: Path) -> None:
    sample = sample_path("ethics/justice_test.csv")
    assert sample is not None
    (tmp_path / "justice_test.csv.gz").write_bytes(sample.read_bytes())
    data = load_task("ethics-justice", LoadOptions(data=str(tmp_path), split="test"))
    assert data.origin == Origin.FLAG
    assert data.examples == loaded("ethics-justice", "test").examples


def test_data_file_override_is_loaded_whole_for_split_tasks() -> None:
    path = sample_path("ethics/justice_test.csv")
    data = load_task("ethics-justice", LoadOptions(data=str(path), split="train"))
    assert data.examples == loaded("ethics-justice", "test").examples
