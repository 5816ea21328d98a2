"""Linear probes on a frozen model's features: weak-to-strong at the cost of one forward pass.

Fine-tuning a 270M model on a 2-core CPU takes minutes per run; a probe on frozen features
takes a second once the features are computed (one forward pass per example). The paper uses
probes too (its saliency section: linear probes with weak and with gold labels), and they run
the same protocol with the same losses:

    probe = FrozenFeatures("gemma-3-270m")
    x = probe.features(prompts)                        # (n, d) last-token hidden states
    head = probe.label_word_head()                     # the 2-way head of the label words
    head = train_probe(x, targets, head, loss=make_loss("confidence"), seed=0)
    p_true = head.predict_proba(x_test)

Features are the final (normed) hidden state at the last prompt token, the vector the LM head
reads to predict the label word. The probe starts from the unembedding rows of " False" and
" True" (paper App. A.4: the 2-way head is initialised from the label tokens' unembeddings), so
before training it reproduces the model's zero-shot label-word logits (up to the spelling
variants the backend also sums, and any logit soft-capping), and training moves it from there.

A fine-tuned `Classifier` works too (`FrozenFeatures(result.classifier)`): that is the paper's
"fine-tune on weak labels, then probe with gold labels". Its LoRA adapters are merged first,
and `own_head()` is its trained 2-way head: the label-word rows ("word") or the new linear
head ("linear").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from elicit.errors import ConfigError
from elicit.training.losses import BatchLoss, ClassifierLoss, soft_cross_entropy

if TYPE_CHECKING:
    from elicit.training.classifier import Classifier


@dataclass
class ProbeHead:
    """logits = x @ weight.T + bias, class 0 = False, 1 = True."""

    weight: torch.Tensor  # (2, d)
    bias: torch.Tensor  # (2,)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.T + self.bias

    def predict_proba(self, x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            p = torch.softmax(self.logits(x.float()), dim=-1)[:, 1]
        return np.asarray(p.double().numpy(), dtype=np.float64)


class FrozenFeatures:
    """A model used as a frozen feature extractor (features cached per prompt).

    model: a name or path (loaded as a label-word classifier), or a trained `Classifier`
    (merged in place: its LoRA adapters are folded into the weights).
    """

    def __init__(
        self,
        model: str | Classifier,
        *,
        label_words: tuple[str, ...] = (" False", " True"),
        batch_size: int = 8,
        device: str = "auto",
    ) -> None:
        from elicit.training.classifier import make_classifier
        from elicit.training.model import is_peft

        self.clf = make_classifier(model, "word", label_words=label_words, device=device)
        if is_peft(self.clf.module):  # the decoder stack is only reachable on a plain model
            self.clf.merge()
        self.batch_size = batch_size
        self._cache: dict[str, torch.Tensor] = {}

    def features(self, prompts: Sequence[str]) -> torch.Tensor:
        """(n, d) fp32 CPU tensor of last-token final hidden states."""
        from elicit.training.model import pad_left

        todo = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        module = self.clf.module
        base = module.base_model  # the decoder stack under the LM head (or the linear head)
        backend = self.clf.lm if self.clf.lm is not None else self.clf.seq
        assert backend is not None  # a Classifier has one or the other
        seqs = {p: self.clf.encode(p) for p in todo}
        order = sorted(todo, key=lambda p: -len(seqs[p]))  # less padding per batch
        module.eval()
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                ids, mask, positions = pad_left(
                    [seqs[p] for p in batch], backend.pad_id, backend.device
                )
                out = base(input_ids=ids, attention_mask=mask, position_ids=positions)
                last = out.last_hidden_state[:, -1, :].float().cpu()
                for p, row in zip(batch, last, strict=True):
                    self._cache[p] = row.clone()
        if not prompts:
            return torch.zeros((0, self.hidden_size))
        return torch.stack([self._cache[p] for p in prompts])

    @property
    def hidden_size(self) -> int:
        return int(self.clf.module.config.hidden_size)

    def own_head(self) -> ProbeHead:
        """The model's own 2-way head: the label-word rows, or a linear classifier's head."""
        if self.clf.objective == "word":
            return self.label_word_head()
        score = getattr(self.clf.module, "score", None)
        if not isinstance(score, torch.nn.Linear) or score.out_features != 2:
            raise ConfigError(
                f"{type(self.clf.module).__name__} has no 2-way `score` head to start a probe "
                "from; use --objective word"
            )
        weight = score.weight.detach().float().cpu().clone()
        bias = score.bias.detach().float().cpu().clone() if score.bias is not None else None
        return ProbeHead(weight, bias if bias is not None else torch.zeros(2))

    def label_word_head(self) -> ProbeHead:
        """The 2-way head made of the label words' unembedding rows (main spelling of each)."""
        if self.clf.objective != "word":
            raise ConfigError("a linear-head classifier has no label-word head; use own_head()")
        unembed = self.clf.module.get_output_embeddings()
        rows = [ids[0] for ids in self.clf.label_ids]
        weight = unembed.weight[rows].detach().float().cpu().clone()
        bias_param = getattr(unembed, "bias", None)
        bias = (
            bias_param[rows].detach().float().cpu().clone()
            if bias_param is not None
            else torch.zeros(2)
        )
        return ProbeHead(weight, bias)


def train_probe(
    x: torch.Tensor,
    targets: Sequence[float] | np.ndarray,
    init: ProbeHead,
    *,
    loss: ClassifierLoss = soft_cross_entropy,
    epochs: int = 30,
    lr: float = 1e-3,
    batch_size: int = 32,
    weight_decay: float = 0.0,
    seed: int = 0,
) -> ProbeHead:
    """Train a copy of `init` on (x, P(True) targets) with Adam; `loss` sees step_frac.

    Each step is one batch of at most `batch_size` examples. For a loss that thresholds over
    its batch (`BatchLoss`, the confidence loss) the batches of an epoch are made equal in size
    (n = 100, batch_size = 32: four of 25) rather than three of 32 and a last one of 4, whose
    threshold over 4 examples would mostly round the weak labels; other losses keep
    `batch_size`-sized batches and a short last one.
    """
    t = torch.as_tensor(np.asarray(targets, dtype=np.float32))
    if x.shape[0] != t.shape[0] or x.shape[0] == 0:
        raise ConfigError(f"probe: {x.shape[0]} feature rows and {t.shape[0]} targets")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ConfigError("probe: epochs and batch size must be >= 1 and lr > 0")
    weight = init.weight.clone().requires_grad_(True)
    bias = init.bias.clone().requires_grad_(True)
    opt = torch.optim.Adam([weight, bias], lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    steps_per_epoch = (n + batch_size - 1) // batch_size
    total = epochs * steps_per_epoch
    step = 0
    xf = x.float()
    balanced = isinstance(loss, BatchLoss)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        if balanced:
            batches = list(torch.tensor_split(perm, steps_per_epoch))
        else:
            batches = [perm[s : s + batch_size] for s in range(0, n, batch_size)]
        for idx in batches:
            logits = xf[idx] @ weight.T + bias
            value = loss(logits, t[idx], step / total)
            opt.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            opt.step()
            step += 1
    return ProbeHead(weight.detach(), bias.detach())


class GoldProbes:
    """The paper's saliency comparison (Burns et al. 2023, its linear-probe section): probes
    with gold labels on the frozen features of each weak-to-strong student (ft(weak)+lp(gold))
    and of the untrained strong model (lp(gold); lp(weak) uses the weak labels instead), all
    trained on the students' training claims, each starting from its model's own 2-way head.

        probes = GoldProbes("gemma-3-270m", train_prompts, gold, weak, test_prompts, seed=0)
        p_ft_lp = probes.fine_tuned(result.classifier)   # merges its LoRA adapters
        p_lp_gold, p_lp_weak = probes.base()
    """

    def __init__(
        self,
        model: str,
        train_prompts: list[str],
        gold: np.ndarray,
        weak: np.ndarray,
        test_prompts: list[str],
        *,
        epochs: int = 30,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.train_prompts, self.test_prompts = train_prompts, test_prompts
        self.gold, self.weak = gold, weak
        self.epochs, self.lr, self.seed = epochs, lr, seed

    def _probe(self, features: FrozenFeatures, targets: np.ndarray, init: ProbeHead) -> np.ndarray:
        head = train_probe(
            features.features(self.train_prompts), targets, init,
            epochs=self.epochs, lr=self.lr, seed=self.seed,
        )  # fmt: skip
        return head.predict_proba(features.features(self.test_prompts))

    def fine_tuned(self, classifier: Classifier) -> np.ndarray:
        """Test P(True) of a gold probe on a fine-tuned student's features."""
        features = FrozenFeatures(classifier)
        return self._probe(features, self.gold, features.own_head())

    def base(self) -> tuple[np.ndarray, np.ndarray]:
        """Test P(True) of the gold probe and of the weak probe on the untrained model."""
        features = FrozenFeatures(self.model)
        head = features.label_word_head()
        return self._probe(features, self.gold, head), self._probe(features, self.weak, head)
