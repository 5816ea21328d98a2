"""A search killed at any step resumes from its checkpoint to the uninterrupted result."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from planted import planted_lm, pool

from elicit.errors import ConfigError
from elicit.search import checkpoint
from elicit.search.icm import Search, SearchConfig, SearchResult, Step, run_search
from elicit.tasks.base import Consistency

KIND = Consistency.ANSWER
CONFIG = SearchConfig(iterations=60, checkpoint_every=7)
EXAMPLES, PLANTED = pool(KIND, 24, seed=11)


class Killed(Exception):
    pass


def on_step_killing_at(k: int | None):  # type: ignore[no-untyped-def]
    def on_step(step: Step) -> dict[str, float]:
        if step.iteration == k:
            raise Killed
        return {"n_labelled_seen": float(len(step.labels))}

    return on_step


def search(ckpt: Path | None, *, kill: int | None = None, resume: bool = False) -> SearchResult:
    # A fresh LM each time: a resumed search starts with an empty memo, as after a real kill.
    return run_search(
        planted_lm(PLANTED, seed=11, noise=3.0),
        EXAMPLES,
        KIND,
        CONFIG,
        seed=5,
        on_step=on_step_killing_at(kill),
        checkpoint_dir=ckpt,
        resume=resume,
    )


@pytest.fixture(scope="module")
def uninterrupted() -> SearchResult:
    return search(None)


@pytest.mark.parametrize("kill", [1, 7, 8, 23, 60])
def test_resume_after_kill_gives_identical_labels(
    kill: int, uninterrupted: SearchResult, tmp_path: Path
) -> None:
    with pytest.raises(Killed):
        search(tmp_path, kill=kill)
    saved = json.loads((tmp_path / checkpoint.CHECKPOINT_FILE).read_text())
    assert saved["iteration"] == (kill - 1) // CONFIG.checkpoint_every * CONFIG.checkpoint_every
    resumed = search(tmp_path, resume=True)
    assert resumed.labels == uninterrupted.labels
    assert resumed.trace == uninterrupted.trace
    assert resumed.energy == uninterrupted.energy


def test_two_kills_and_a_finished_checkpoint(uninterrupted: SearchResult, tmp_path: Path) -> None:
    with pytest.raises(Killed):
        search(tmp_path, kill=20)
    with pytest.raises(Killed):
        search(tmp_path, kill=45, resume=True)
    assert search(tmp_path, resume=True).labels == uninterrupted.labels
    # Resuming a search whose checkpoint is at the last iteration redoes nothing.
    again = search(tmp_path, resume=True)
    assert again.labels == uninterrupted.labels and again.trace == uninterrupted.trace


def test_trace_rows_past_the_checkpoint_are_dropped(
    uninterrupted: SearchResult, tmp_path: Path
) -> None:
    with pytest.raises(Killed):
        search(tmp_path, kill=30)
    with (tmp_path / checkpoint.TRACE_FILE).open("a") as fh:
        fh.write(json.dumps({"iteration": 999}) + "\n")  # written just before a kill
    assert search(tmp_path, resume=True).trace == uninterrupted.trace


def test_without_resume_an_old_checkpoint_is_discarded(
    uninterrupted: SearchResult, tmp_path: Path
) -> None:
    with pytest.raises(Killed):
        search(tmp_path, kill=30)
    assert search(tmp_path).trace == uninterrupted.trace


def test_a_checkpoint_of_other_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Killed):
        search(tmp_path, kill=10)
    with pytest.raises(ConfigError, match="other settings"):
        run_search(
            planted_lm(PLANTED, seed=11, noise=3.0), EXAMPLES, KIND,
            SearchConfig(iterations=60, checkpoint_every=7, alpha=20),
            seed=5, checkpoint_dir=tmp_path, resume=True,
        )  # fmt: skip


def test_resume_may_checkpoint_at_another_interval(
    uninterrupted: SearchResult, tmp_path: Path
) -> None:
    with pytest.raises(Killed):
        search(tmp_path, kill=25)
    resumed = run_search(
        planted_lm(PLANTED, seed=11, noise=3.0), EXAMPLES, KIND,
        SearchConfig(iterations=60, checkpoint_every=3),
        seed=5, on_step=on_step_killing_at(None), checkpoint_dir=tmp_path, resume=True,
    )  # fmt: skip
    assert resumed.labels == uninterrupted.labels and resumed.trace == uninterrupted.trace


def test_a_search_restored_from_its_checkpoint_takes_the_same_path(
    uninterrupted: SearchResult,
) -> None:
    """The state object by hand: a checkpoint taken mid-way (through its JSON form) and restored
    into a fresh Search, on a fresh LM, finishes as the uninterrupted search does."""

    def fresh() -> Search:
        lm = planted_lm(PLANTED, seed=11, noise=3.0)
        return Search(lm, EXAMPLES, KIND, CONFIG, random.Random(5))

    with pytest.raises(RuntimeError, match="begin"):
        fresh().step()
    first = fresh()
    first.begin()
    for _ in range(25):
        first.step(on_step_killing_at(None))
    saved = checkpoint.Checkpoint.from_dict(json.loads(json.dumps(first.checkpoint().to_dict())))
    assert (saved.iteration, saved.trace_length) == (25, 25)
    second = fresh()
    second.restore(saved, [r.to_dict() for r in first.trace])
    while second.iteration < second.iterations:
        second.step(on_step_killing_at(None))
    result = second.finish()
    assert result.labels == uninterrupted.labels
    assert result.trace == uninterrupted.trace
    assert result.energy == uninterrupted.energy
