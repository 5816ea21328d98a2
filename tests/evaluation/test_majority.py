"""Majority-vote labelling (each claim asked k times with other few-shot demos) and its hook
in `elicit eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from elicit.backends.base import TRUE_FALSE
from elicit.backends.fake import ScriptedLM
from elicit.commands.evaluate import DEFAULT_METHODS, EvalConfig, run_eval
from elicit.errors import ConfigError
from elicit.evaluation.majority import MAJORITY, majority_labels
from elicit.tasks.base import CLAIM_SUFFIX, Example


def claims(n: int) -> list[Example]:
    return [
        Example(f"c{i}", f"item {i} was {'good' if i % 2 else 'bad'}\n{CLAIM_SUFFIX}", f"c{i}")
        for i in range(n)
    ]


def query(prompt: str) -> str:
    return prompt.split("\n\n")[-1]


def test_labels_follow_the_model_and_contexts_vary() -> None:
    lm = ScriptedLM(lambda p: 2.0 if "good" in query(p) else -2.0)
    examples = claims(10)
    labels = majority_labels(lm, examples, TRUE_FALSE, votes=3, shots=4, seed=0)
    assert labels == {ex.uid: i % 2 for i, ex in enumerate(examples)}
    # One zero-shot pass, then 3 votes over the 6 claims outside each 4-demo context.
    assert lm.n_prompts == 10 + 3 * 6
    many_shot = lm.prompts[10:]
    contexts = {p.rsplit("\n\n", 1)[0] for p in many_shot}
    assert len(contexts) == 3  # a different draw of demos (or order) per vote
    for p in many_shot:
        *demos, q = p.split("\n\n")
        assert len(demos) == 4 and all(q.split("\n")[0] not in d for d in demos)
    again = ScriptedLM(lambda p: 2.0 if "good" in query(p) else -2.0)
    majority_labels(again, examples, TRUE_FALSE, votes=3, shots=4, seed=0)
    assert again.prompts == lm.prompts  # seeded


def test_majority_overrules_a_minority_of_votes() -> None:
    # Claim c0's score flips with the context: True after a context holding c1, else False.
    def rule(p: str) -> float:
        if "item 0 " in query(p):
            return 1.0 if "item 1 " in p.rsplit("\n\n", 1)[0] else -1.0
        return 0.5

    examples = claims(6)
    labels = majority_labels(ScriptedLM(rule), examples, TRUE_FALSE, votes=9, shots=1, seed=3)
    assert labels["c0"] == 0  # c1 sits in about 1 in 5 single-demo contexts


def test_tie_goes_to_summed_score_and_tiny_sets() -> None:
    # shots=0: every claim is asked in every vote. Per claim: the zero-shot pass, then 2 votes
    # that split 1:1; the tie goes to the sign of the summed vote scores.
    seqs = {"item 0 ": iter([0.0, 3.0, -1.0]), "item 1 ": iter([0.0, -3.0, 1.0])}
    lm = ScriptedLM(lambda p: next(next(v for k, v in seqs.items() if k in p)))
    labels = majority_labels(lm, claims(2), TRUE_FALSE, votes=2, shots=0, seed=0)
    assert labels == {"c0": 1, "c1": 0}
    one = majority_labels(
        ScriptedLM(lambda p: -1.0), claims(1), TRUE_FALSE, votes=3, shots=4, seed=0
    )
    assert one == {"c0": 0}  # no other claim to show: asked zero-shot three times
    assert majority_labels(ScriptedLM(), [], TRUE_FALSE, votes=3, shots=4, seed=0) == {}
    with pytest.raises(ConfigError, match="--majority-votes"):
        majority_labels(ScriptedLM(), claims(2), TRUE_FALSE, votes=0, shots=1, seed=0)


@pytest.fixture
def claims_file(tmp_path: Path) -> Path:
    path = tmp_path / "claims.jsonl"
    rows = [
        {"uid": f"c{i:02d}", "text": f"item {i} was {'good' if i % 2 else 'bad'}", "label": i % 2}
        for i in range(60)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def icm_run(tmp_path: Path) -> Path:
    run = tmp_path / "label-run"
    run.mkdir()
    (run / "labels.jsonl").write_text(
        "".join(json.dumps({"uid": f"c{i:02d}", "label": i % 2}) + "\n" for i in range(60))
    )
    (run / "trace.jsonl").write_text("{}\n")
    return run


def eval_config(claims_file: Path, tmp_path: Path, **kw: Any) -> EvalConfig:
    base: dict[str, Any] = dict(
        task="claims", data=str(claims_file), n=20, pool_n=16, out=str(tmp_path / "run")
    )
    return EvalConfig(**{**base, **kw})


def test_eval_adds_majority_vote_next_to_icm_by_default(claims_file: Path, tmp_path: Path) -> None:
    icm = icm_run(tmp_path)
    default = eval_config(claims_file, tmp_path, labels=str(icm))
    assert default.methods == DEFAULT_METHODS
    assert default.method_list() == [*DEFAULT_METHODS.split(","), "icm", MAJORITY]
    explicit = eval_config(claims_file, tmp_path, labels=str(icm), methods="golden")
    assert explicit.method_list() == ["golden", "icm"]
    plain = eval_config(claims_file, tmp_path)
    assert MAJORITY not in plain.method_list()


def test_eval_reports_majority_vote(claims_file: Path, tmp_path: Path) -> None:
    lm = ScriptedLM(lambda p: 2.0 if "good" in query(p) else -2.0)
    cfg = eval_config(
        claims_file, tmp_path, methods=f"golden,{MAJORITY}", labels=str(icm_run(tmp_path))
    )
    summary = run_eval(cfg, lm=lm)
    assert [r.method for r in summary.results] == ["golden", MAJORITY, "icm"]
    result = next(r for r in summary.results if r.method == MAJORITY)
    assert result.label_agreement is not None and result.label_agreement.agreement == 1.0
    assert result.label_agreement.n == summary.n_demos
    demos = [
        json.loads(line) for line in (tmp_path / "run" / "demos.jsonl").read_text().splitlines()
    ]
    assert all(d["labels"][MAJORITY] == d["gold"] for d in demos)


def test_eval_config_checks_majority_options(claims_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--majority-votes"):
        eval_config(claims_file, tmp_path, majority_votes=0)
