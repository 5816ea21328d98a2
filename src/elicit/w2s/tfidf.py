"""A weak supervisor that is not a language model: TF-IDF features + logistic regression.

Weak-to-strong only needs a supervisor that is worse than the student's ceiling. A bag of
words is a cheap, classic one (scikit-learn, seconds on a CPU), and a useful contrast: its
mistakes (negations, sarcasm, word order) are not the mistakes a language model makes, so how
much of them a student copies says something about imitation vs. knowledge.

    sup = TfidfSupervisor(seed=0).fit(train_prompts, train_labels)
    p_true = sup.predict_proba(test_prompts)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from elicit.errors import BackendError, ConfigError


class TfidfSupervisor:
    """Word and bigram TF-IDF, L2-regularised logistic regression; P(True) per text."""

    name = "tfidf"

    def __init__(self, *, seed: int = 0, max_features: int = 50_000, c: float = 10.0) -> None:
        self.seed = seed
        self.max_features = max_features
        self.c = c
        self._pipeline: Any = None

    def fit(self, texts: Sequence[str], labels: Sequence[int] | np.ndarray) -> TfidfSupervisor:
        try:
            from sklearn.feature_extraction.text import TfidfVectorizer
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline
        except ImportError as e:  # pragma: no cover - the train extra installs it
            raise BackendError(
                "the tfidf weak supervisor needs scikit-learn: pip install -e '.[train]'"
            ) from e
        y = np.asarray(labels, dtype=np.int64)
        if len(texts) != len(y) or len(y) == 0:
            raise ConfigError(
                f"tfidf supervisor: {len(texts)} texts and {len(y)} labels; need equal, non-zero"
            )
        if len(set(y.tolist())) < 2:
            raise ConfigError(
                "tfidf supervisor: its training half has only one class; use more examples "
                "(--n) or another seed"
            )
        self._pipeline = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=self.max_features),
            # Balanced class weights: with a few hundred examples and the default prior, the
            # probabilities otherwise all land on the majority side of 0.5 (measured on SST-2,
            # 100 examples: every test claim above 0.5), and the weak labels carry no decision.
            # C = 10 (weak regularisation): sparse TF-IDF rows need large weights to move P.
            LogisticRegression(
                C=self.c, class_weight="balanced", max_iter=1000, random_state=self.seed
            ),
        )
        self._pipeline.fit(list(texts), y)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(True) per text, shape (n,)."""
        if self._pipeline is None:
            raise RuntimeError("TfidfSupervisor.predict_proba called before fit")
        if len(texts) == 0:
            return np.zeros(0, dtype=np.float64)
        proba = self._pipeline.predict_proba(list(texts))
        classes = list(self._pipeline.classes_)
        return np.asarray(proba[:, classes.index(1)], dtype=np.float64)
