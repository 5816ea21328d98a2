"""The confidence loss's threshold is taken over the optimizer's whole batch: fine-tuning gives
the same weights however the batch is split into micro-batches, the probe trainer has no
short last batch, and a batch of one (where the threshold is meaningless) is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_w2s_run import config

from elicit.errors import ConfigError
from elicit.training.classifier import train_classifier
from elicit.training.config import FitOptions
from elicit.training.model import load_causal_lm
from elicit.w2s.losses import ConfidenceLoss, xent_loss
from elicit.w2s.probe import ProbeHead, train_probe

PROMPTS = [
    f"Question: What is 2+{i}? Claim: {i + 2 + i % 2}. I think this claim is" for i in range(8)
]
#: Soft weak labels, so that hardening by the batch's share differs from rounding them.
WEAK = [0.9, 0.6, 0.7, 0.2, 0.55, 0.4, 0.8, 0.3]


def trained_weights(
    model_dir: Path, batch: int, accum: int
) -> tuple[dict[str, torch.Tensor], list[float]]:
    lm = load_causal_lm(str(model_dir))
    options = FitOptions(max_steps=3, train_batch_size=batch, grad_accum=accum, lr=1e-2, lora=False)
    # Full weight from the first step (no warm-up), so every step uses the threshold.
    loss = ConfidenceLoss(a_max=0.75, warmup_frac=0.0)
    result = train_classifier(lm, PROMPTS, WEAK, options, seed=0, loss=loss, progress=False)
    weights = {n: p.detach().clone() for n, p in result.classifier.module.named_parameters()}
    return weights, list(result.losses)


def test_fine_tuning_does_not_depend_on_how_a_batch_is_split(tiny_model_dir: Path) -> None:
    whole, whole_losses = trained_weights(tiny_model_dir, 8, 1)
    for batch, accum in [(4, 2), (1, 8)]:
        split, split_losses = trained_weights(tiny_model_dir, batch, accum)
        assert split_losses == pytest.approx(whole_losses, rel=1e-4)
        for name, value in whole.items():
            # Adam magnifies float noise in tiny gradients: ~3e-5 here, ~4e-2 with per-micro-batch
            # thresholds.
            torch.testing.assert_close(split[name], value, atol=1e-4, rtol=0, msg=name)


class RecordingLoss(ConfidenceLoss):
    """The confidence loss, noting the size of each batch it is called on."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__(a_max=0.5, warmup_frac=0.0)
        object.__setattr__(self, "sizes", sizes)

    def __call__(
        self, logits: torch.Tensor, targets: torch.Tensor, step_frac: float
    ) -> torch.Tensor:
        self.sizes.append(len(targets))  # type: ignore[attr-defined]
        return super().__call__(logits, targets, step_frac)


def probe_inputs(n: int) -> tuple[torch.Tensor, np.ndarray, ProbeHead]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=gen)
    targets = (x[:, 0] > 0).float().numpy()
    return x, targets, ProbeHead(torch.zeros(2, 4), torch.zeros(2))


def test_probe_batches_of_a_confidence_loss_have_no_short_last_one() -> None:
    x, targets, head = probe_inputs(33)
    sizes: list[int] = []
    train_probe(x, targets, head, loss=RecordingLoss(sizes), epochs=2, batch_size=32, seed=0)
    # 33 examples in batches of at most 32: two of 17 and 16, not 32 and a lone 1.
    assert sorted(sizes) == [16, 16, 17, 17]
    # A mean loss keeps the plain batching (and so the numbers it gave before).
    seen: list[int] = []

    def plain(logits: torch.Tensor, t: torch.Tensor, frac: float) -> torch.Tensor:
        seen.append(len(t))
        return xent_loss(logits, t, frac)

    train_probe(x, targets, head, loss=plain, epochs=1, batch_size=32, seed=0)
    assert seen == [32, 1]


def test_a_confidence_loss_on_batches_of_one_is_refused(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    with pytest.raises(ConfigError, match="grad-accum"):
        config(tmp_path, tiny_model_dir, losses="xent,confidence", train_batch_size=1)
    config(tmp_path, tiny_model_dir, losses="confidence", train_batch_size=1, grad_accum=2)
    config(tmp_path, tiny_model_dir, losses="xent", train_batch_size=1)


ACCELERATE = shutil.which("accelerate", path=str(Path(sys.executable).parent))

#: Trains PROMPTS on WEAK with the confidence loss and writes the per-step losses (main process).
SCRIPT = """
import json, sys
from elicit.training.classifier import train_classifier
from elicit.training.config import FitOptions
from elicit.training.distributed import is_main_process
from elicit.training.model import load_causal_lm
from elicit.w2s.losses import ConfidenceLoss

model, out, batch, prompts, weak = sys.argv[1], sys.argv[2], int(sys.argv[3]), *json.loads(sys.argv[4])
options = FitOptions(max_steps=3, train_batch_size=batch, lr=1e-2, lora=False)
result = train_classifier(load_causal_lm(model), prompts, weak, options, seed=0,
                         loss=ConfidenceLoss(a_max=0.75, warmup_frac=0.0), progress=False)
if is_main_process():
    open(out, "w").write(json.dumps(list(result.losses)))
"""


@pytest.mark.skipif(ACCELERATE is None, reason="accelerate is not installed")
def test_data_parallel_processes_threshold_over_the_whole_step(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # 2 gloo processes x 2 claims are the single process's step of 4: the threshold must be
    # taken over all 4 (every process's share gathered), so the losses are the same.
    script = tmp_path / "train.py"
    script.write_text(SCRIPT, encoding="utf-8")
    data = json.dumps([PROMPTS, WEAK])
    env = {
        **os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
        "ACCELERATE_USE_CPU": "1",
    }  # fmt: skip
    single = tmp_path / "single.json"
    subprocess.run(
        [sys.executable, str(script), str(tiny_model_dir), str(single), "4", data],
        env=env, check=True, timeout=600,
    )  # fmt: skip
    parallel = tmp_path / "parallel.json"
    launch = [
        str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no",
        str(script), str(tiny_model_dir), str(parallel), "2", data,
    ]  # fmt: skip
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = json.loads(single.read_text()), json.loads(parallel.read_text())
    assert len(one) == len(two) == 3
    assert two == pytest.approx(one, rel=1e-4, abs=1e-5)
