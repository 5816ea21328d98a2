"""The TF-IDF weak supervisor learns a word-level rule and refuses unusable training sets."""

from __future__ import annotations

import numpy as np
import pytest

from elicit.errors import ConfigError
from elicit.w2s.tfidf import TfidfSupervisor


def test_learns_words_and_returns_p_true() -> None:
    good = [f"a great film number {i}" for i in range(20)]
    bad = [f"an awful film number {i}" for i in range(20)]
    sup = TfidfSupervisor(seed=0).fit(good + bad, [1] * 20 + [0] * 20)
    p = sup.predict_proba(["great acting", "awful acting"])
    assert p.shape == (2,) and p[0] > 0.5 > p[1]
    assert sup.predict_proba([]).shape == (0,)
    # Deterministic for a seed.
    again = TfidfSupervisor(seed=0).fit(good + bad, [1] * 20 + [0] * 20)
    np.testing.assert_array_equal(again.predict_proba(["great"]), sup.predict_proba(["great"]))


def test_refuses_one_class_and_mismatched_inputs() -> None:
    with pytest.raises(ConfigError, match="only one class"):
        TfidfSupervisor().fit(["a", "b"], [1, 1])
    with pytest.raises(ConfigError, match="2 texts and 1 labels"):
        TfidfSupervisor().fit(["a", "b"], [1])
    with pytest.raises(RuntimeError):
        TfidfSupervisor().predict_proba(["a"])
