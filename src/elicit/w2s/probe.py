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
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from elicit.errors import ConfigError
from elicit.training.losses import ClassifierLoss, soft_cross_entropy


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
    """A causal LM used as a frozen feature extractor (features cached per prompt)."""

    def __init__(
        self,
        model: str,
        *,
        label_words: tuple[str, ...] = (" False", " True"),
        batch_size: int = 8,
        device: str = "auto",
    ) -> None:
        from elicit.training.classifier import make_classifier

        self.clf = make_classifier(model, "word", label_words=label_words, device=device)
        self.batch_size = batch_size
        self._cache: dict[str, torch.Tensor] = {}

    def features(self, prompts: Sequence[str]) -> torch.Tensor:
        """(n, d) fp32 CPU tensor of last-token final hidden states."""
        from elicit.training.model import pad_left

        todo = [p for p in dict.fromkeys(prompts) if p not in self._cache]
        module = self.clf.module
        base = module.base_model  # the decoder stack under the LM head
        lm = self.clf.lm
        assert lm is not None  # a "word" classifier always has its backend
        seqs = {p: self.clf.encode(p) for p in todo}
        order = sorted(todo, key=lambda p: -len(seqs[p]))  # less padding per batch
        module.eval()
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                ids, mask, positions = pad_left([seqs[p] for p in batch], lm.pad_id, lm.device)
                out = base(input_ids=ids, attention_mask=mask, position_ids=positions)
                last = out.last_hidden_state[:, -1, :].float().cpu()
                for p, row in zip(batch, last, strict=True):
                    self._cache[p] = row.clone()
        if not prompts:
            return torch.zeros((0, self.hidden_size))
        return torch.stack([self._cache[p] for p in prompts])

    @property
    def hidden_size(self) -> int:
        return int(self.clf.module.get_output_embeddings().weight.shape[1])

    def label_word_head(self) -> ProbeHead:
        """The 2-way head made of the label words' unembedding rows (main spelling of each)."""
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
    """Train a copy of `init` on (x, P(True) targets) with Adam; `loss` sees step_frac."""
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
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            logits = xf[idx] @ weight.T + bias
            value = loss(logits, t[idx], step / total)
            opt.zero_grad()
            value.backward()  # type: ignore[no-untyped-call]
            opt.step()
            step += 1
    return ProbeHead(weight.detach(), bias.detach())
