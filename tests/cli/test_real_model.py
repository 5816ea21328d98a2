"""`elicit score` end to end on the real default model (slow; CI runs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elicit.backends.base import LM
from elicit.commands.score import ScoreConfig, run_score

#: Movie reviews the test writes itself (no data folder needed), in SST-2's claim format:
#: every claim says "positive", so half of them are true.
POSITIVE = (
    "A wonderful film, I loved every minute of it.",
    "Brilliant acting and a moving story.",
    "One of the best movies I have seen this year.",
    "Funny, warm and beautifully shot.",
    "A delightful, charming comedy.",
    "The performances are superb and the script is sharp.",
    "A gripping thriller with a great cast.",
    "I laughed and cried; a truly lovely film.",
    "An inspiring, beautiful masterpiece.",
    "Smart, exciting and a joy to watch.",
    "The director has made a fantastic, moving film.",
    "Great fun from start to finish.",
)
NEGATIVE = (
    "A boring, tedious mess of a film.",
    "The worst movie I have seen in years.",
    "Terrible acting and a stupid plot.",
    "Dull, lifeless and far too long.",
    "An awful, painful waste of time.",
    "The script is lazy and the jokes fall flat.",
    "A dreary, pointless sequel.",
    "I walked out; it was unbearable.",
    "Ugly, loud and completely incoherent.",
    "A tiresome film with nothing to say.",
    "The director has made a clumsy, boring film.",
    "Bad from start to finish.",
)


def sentiment_claims(path: Path) -> Path:
    rows = [
        {
            "uid": f"r{i}-{label}",
            "text": f"Review: {review}\nClaim: The sentiment of this review is positive.",
            "label": label,
        }
        for label, reviews in ((1, POSITIVE), (0, NEGATIVE))
        for i, review in enumerate(reviews)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.slow
def test_score_real_model(gemma_lm: LM, tmp_path: Path) -> None:
    data = sentiment_claims(tmp_path / "claims.jsonl")
    config = ScoreConfig(
        task="claims", data=str(data), n=None, seed=0, out=str(tmp_path / "run"), progress=False
    )
    summary = run_score(config, lm=gemma_lm)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 24 and metrics["model"] == "gemma-3-270m"
    # The 270M base model knows sentiment: it ranks clear sentiment claims well above chance
    # (SST-2: AUROC 0.81 at n = 100, docs/RESULTS.md), although at threshold 0 it says True
    # to nearly all.
    assert summary.metrics["auroc"] is not None and summary.metrics["auroc"] > 0.65
    preds = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == 24
