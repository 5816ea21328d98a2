"""Data helpers for the training tests: claim prompts the tiny tokenizer knows, a claims CSV,
and a small Alpaca-style comparison file."""

from __future__ import annotations

import json
from pathlib import Path


def claim(i: int) -> str:
    return f"Question: What is 2+{i}? Claim: {i + 2 + i % 2}. I think this claim is"


#: Eight claims, True exactly when i is even (the claimed sum is right).
PROMPTS = [claim(i) for i in range(8)]
TARGETS = [1.0 if i % 2 == 0 else 0.0 for i in range(8)]


def write_claims_csv(path: Path, n: int = 16) -> Path:
    rows = ["uid,text,label"] + [
        f"c{i},What is 2+{i}? Claim: {i + 2 + i % 2}.,{int(i % 2 == 0)}" for i in range(n)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def write_comparisons(path: Path, n: int = 12) -> Path:
    """An Alpaca-style file: one order per pair, the better reply says 'True'."""
    rows = []
    for i in range(n):
        good, bad = f"the answer is True {i}", f"is False the {i}"
        first, second = (good, bad) if i % 2 else (bad, good)
        rows.append(
            {
                "question": f"What is 2+{i}?",
                "choice": first,
                "choice_2": second,
                "label": bool(i % 2),
                "consistency_id": i,
            }
        )
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path
