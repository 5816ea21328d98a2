"""Check every task's full data for the structure its loader promises (the tests check the
bundled samples; this needs the full data folder).

    ELICIT_DATA_DIR=/path/to/full/data python benchmarks/data_check.py

For each task and split: claims well formed (unique uids under the task's name, prompts ending
in the claim suffix, gold for every claim, both labels present), the label balance, and the
consistency structure (comparison groups hold both orders with one True; answer groups have at
most one True answer). Then the task-specific promises the tests cannot see on samples (ANLI's
neutral rows dropped, SciQ claim pairs, TruthfulQA keys not taken from gold, blog authors).
Prints one line per check and exits 1 if any fails.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, defaultdict
from collections.abc import Callable

from elicit.tasks import CLAIM_SUFFIX, Consistency, LoadOptions, TaskData, load_task, task_names
from elicit.tasks.sources import Origin

BALANCE = defaultdict(
    lambda: (0.35, 0.65),
    {"cosmosqa": (0.24, 0.26), "ethics-virtue": (0.05, 0.25), "truthfulqa": (0.4, 0.5)},
)


def well_formed(name: str, data: TaskData) -> str:
    uids = [ex.uid for ex in data]
    assert len(data) > 100, f"only {len(data)} claims"
    assert len(set(uids)) == len(uids), "duplicate uids"
    assert all(uid.startswith(f"{name}/") for uid in uids), "uid without the task's name"
    assert all(ex.prompt.endswith(CLAIM_SUFFIX) for ex in data), "prompt without the suffix"
    assert data.has_gold and set(data.gold.values()) == {0, 1}, "gold missing or one label"
    frac = sum(data.gold.values()) / len(data)
    low, high = BALANCE[name]
    assert low <= frac <= high, f"{frac:.3f} True, outside [{low}, {high}]"
    return f"{len(data)} claims, {frac:.1%} True"


def consistent(name: str, data: TaskData) -> str:
    groups: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for ex in data:
        groups[ex.group].append((ex.key, data.gold[ex.uid]))
    if data.consistency is Consistency.COMPARISON:
        for members in groups.values():
            assert sorted(k for k, _ in members) == ["ab", "ba"], "a pair without both orders"
            assert sorted(g for _, g in members) == [0, 1], "a pair without exactly one True"
    elif data.consistency is Consistency.ANSWER:
        for members in groups.values():
            assert len({k for k, g in members if g == 1}) <= 1, "two answers both True"
    return f"{len(groups)} groups ({data.consistency})"


def specific(name: str, data: TaskData) -> str:
    if name == "anli":
        assert len(data) == 2132, f"{len(data)} claims, expected 3600 rows minus 1068 neutral"
    elif name == "sciq":
        assert Counter(Counter(ex.group for ex in data).values()) == {2: len(data) // 2}
    elif name == "truthfulqa":
        assert {ex.key for ex in data} == {""}, "TruthfulQA keys must not come from gold"
    elif name == "blog-gender":
        assert all(ex.group.startswith("author/") for ex in data)
    elif data.consistency is Consistency.COMPARISON:
        ab = sum(data.gold[ex.uid] for ex in data if ex.key == "ab") / (len(data) // 2)
        assert 0.4 < ab < 0.6, f"key 'ab' is True {ab:.2f} of the time"
    return "ok"


CHECKS: tuple[Callable[[str, TaskData], str], ...] = (well_formed, consistent, specific)


def main() -> int:
    if not os.environ.get("ELICIT_DATA_DIR"):
        print("set ELICIT_DATA_DIR to the full data folder", file=sys.stderr)
        return 2
    failed = 0
    for name in task_names():
        if name == "claims":
            continue
        for split in ("train", "test"):
            data = load_task(name, LoadOptions(split=split))
            if data.origin != Origin.ENV:
                print(f"SKIP {name}/{split}: read from {data.origin}, not ELICIT_DATA_DIR")
                continue
            for check in CHECKS:
                try:
                    print(f"ok   {name}/{split} {check.__name__}: {check(name, data)}")
                except AssertionError as err:
                    failed += 1
                    print(f"FAIL {name}/{split} {check.__name__}: {err}")
    print(f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
