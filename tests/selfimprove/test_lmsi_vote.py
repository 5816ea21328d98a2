"""Self-consistency vote: majority, agreement over all paths, ties, no answers."""

from __future__ import annotations

from elicit.selfimprove.vote import majority_vote, passes


def test_majority_and_agreement_count_unanswered_paths() -> None:
    vote = majority_vote(["7", None, "9", "7", None])
    assert vote.answer == "7"
    assert vote.agreement == 2 / 5
    assert (vote.n_paths, vote.n_answered) == (5, 3)
    assert vote.counts == (("7", 2), ("9", 1))
    assert vote.keeps("7") and not vote.keeps("9") and not vote.keeps(None)


def test_tie_goes_to_the_first_sampled_answer() -> None:
    assert majority_vote(["3", "5", "5", "3"]).answer == "3"
    assert majority_vote(["5", "3", "3", "5"]).answer == "5"


def test_no_answer_and_empty() -> None:
    for answers in ([None, None], []):
        vote = majority_vote(answers)
        assert vote.answer is None and vote.agreement == 0.0
        assert not passes(vote, None)


def test_single_path_and_threshold() -> None:
    vote = majority_vote(["4"])
    assert vote.agreement == 1.0
    assert passes(vote, None) and passes(vote, 1.0)
    low = majority_vote(["4", "5", "6"])
    assert passes(low, None) and not passes(low, 0.5)
