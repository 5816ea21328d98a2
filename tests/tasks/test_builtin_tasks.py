"""Every registered task loads from the real files in ../shared/data with the promised structure.

Skipped (with the reason) when no data root exists. Each (task, split) is loaded once per
module; determinism is checked by loading every split a second time.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from elicit.errors import DataError
from elicit.tasks import (
    CLAIM_SUFFIX,
    Consistency,
    LoadOptions,
    TaskData,
    carve,
    data_root,
    get_task,
    load_task,
    task_names,
)
from elicit.tasks.common import POOL

try:
    ROOT = data_root()
except DataError as err:  # pragma: no cover - depends on the machine
    pytest.skip(f"benchmark data not found: {err}", allow_module_level=True)

BUILTIN = [n for n in task_names() if n != "claims"]

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
        _CACHE[name, split] = load_task(name, LoadOptions(split=split))
    return _CACHE[name, split]


@pytest.fixture(
    scope="module", params=[(n, s) for n in BUILTIN for s in ("train", "test")], ids=str
)
def task_split(request: pytest.FixtureRequest) -> tuple[str, str, TaskData]:
    name, split = request.param
    return name, split, loaded(name, split)


def test_examples_are_well_formed(task_split: tuple[str, str, TaskData]) -> None:
    name, _, data = task_split
    assert data.task == name
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
    for name in ("alpaca-comparison", "truthfulqa-preference", "hh-comparison"):
        data = loaded(name, "test")
        ab_true = sum(data.gold[ex.uid] for ex in data if ex.key == "ab")
        frac = ab_true / (len(data) // 2)
        assert 0.4 < frac < 0.6, f"{name}: key 'ab' is True {frac:.2f} of the time"
        assert all(ex.uid.endswith("/" + ex.key) for ex in data)  # uid = pair + order only
        first = [data.gold[ex.uid] for i, ex in enumerate(data.examples) if i % 2 == 0]
        assert 0.4 < sum(first) / len(first) < 0.6, f"{name}: file position predicts gold"


def test_truthfulqa_keys_are_not_from_gold() -> None:
    data = loaded("truthfulqa", "test")
    assert {ex.key for ex in data} == {""}
    assert data.examples[0].prompt.startswith("Question: ")
    assert "\nClaim: " in data.examples[0].prompt


def test_gsm8k_keys_are_normalised_answers() -> None:
    data = loaded("gsm8k-verification", "test")
    first = data.examples[0]
    assert first.prompt.startswith("Question: ") and "\nClaim: " in first.prompt
    assert "The answer is" in first.prompt


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


def test_blog_groups_are_authors_and_claims_alternate() -> None:
    data = loaded("blog-gender", "test")
    assert all(ex.group.startswith("author/") for ex in data)
    assert Counter(ex.key for ex in data).keys() == {"male", "female"}
    by_author: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for ex in data:
        by_author[ex.group].add((ex.key, data.gold[ex.uid]))
    for pairs in by_author.values():  # one gender per author: the label follows the key
        assert len({k for k, g in pairs if g == 1}) <= 1


def test_anli_drops_neutral_and_sciq_pairs_claims() -> None:
    anli = loaded("anli", "test")
    assert len(anli) == 2132  # 3600 rows minus 1068 neutral
    sciq = loaded("sciq", "test")
    sizes = Counter(Counter(ex.group for ex in sciq).values())
    assert sizes == {2: len(sciq) // 2}
    # the uid suffix (0/1) is the shuffled position, not "which one is correct"
    first = [sciq.gold[ex.uid] for ex in sciq if ex.uid.endswith("/0")]
    assert 0.4 < sum(first) / len(first) < 0.6


def test_data_dir_override_with_directory(tmp_path: pytest.TempPathFactory) -> None:
    source = ROOT / "imdb" / "test_500.csv"
    target = tmp_path / "test_500.csv"  # type: ignore[operator]
    target.write_bytes(source.read_bytes())
    data = load_task("imdb", LoadOptions(data=str(tmp_path), split="test"))
    assert data == loaded("imdb", "test")


def test_data_file_override_is_loaded_whole_for_split_tasks() -> None:
    path = ROOT / "icm_release" / "test_truthfulqa.json"
    data = load_task("truthfulqa", LoadOptions(data=str(path), split="train"))
    assert data == loaded("truthfulqa", "test")
