"""Fine-tuning on elicited labels: classifiers, reward models, completion SFT (`elicit train`).

    from elicit.training import FitOptions, train_classifier, train_reward_model
    result = train_classifier("gemma-3-270m", examples, targets, FitOptions(), "out", seed=0)
    result.classifier.predict_proba(prompts)

Modules: config (FitOptions: optimiser, LoRA, checkpoints), losses (classifier losses as
`loss(logits, targets, step_frac)`, Bradley-Terry), loop (the one training loop: accumulation,
bf16 autocast on CUDA, checkpoints, resume), model (loading for training, LoRA), classifier
(label-word or linear-head classifiers from soft targets), reward (reward models and pairwise
accuracy), sft (prompt -> completion fine-tuning), export (atomic adapter and model
directories), best_of_n (reranking samples with a reward model), data (targets from label
sources, comparison pairs), distributed (processes and ranks). The `elicit train` command is
`elicit.commands.train`. torch, transformers and peft are needed (the `train` extra); they are
imported on first use, so
`import elicit.training` (and the CLI parser) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from elicit.training.best_of_n import BestOfN, best_of_n
    from elicit.training.classifier import (
        Classifier,
        TrainResult,
        make_classifier,
        train_classifier,
    )
    from elicit.training.config import FitOptions
    from elicit.training.data import Comparison, Targets, comparisons, label_targets, read_targets
    from elicit.training.export import export_model, load_adapter, save_adapter
    from elicit.training.loop import FitResult, FitRun, FitTask, train
    from elicit.training.losses import ClassifierLoss, bradley_terry, soft_cross_entropy
    from elicit.training.model import load_causal_lm, load_sequence_model
    from elicit.training.reward import (
        RewardModel,
        RewardTrainResult,
        pairwise_accuracy,
        train_reward_model,
    )
    from elicit.training.sft import Completion, SFTResult, train_completions

#: Public name -> the module defining it (imported lazily by `__getattr__`).
_EXPORTS = {
    "BestOfN": "elicit.training.best_of_n",
    "Classifier": "elicit.training.classifier",
    "ClassifierLoss": "elicit.training.losses",
    "Comparison": "elicit.training.data",
    "Completion": "elicit.training.sft",
    "FitOptions": "elicit.training.config",
    "FitResult": "elicit.training.loop",
    "FitRun": "elicit.training.loop",
    "FitTask": "elicit.training.loop",
    "RewardModel": "elicit.training.reward",
    "RewardTrainResult": "elicit.training.reward",
    "SFTResult": "elicit.training.sft",
    "Targets": "elicit.training.data",
    "TrainResult": "elicit.training.classifier",
    "best_of_n": "elicit.training.best_of_n",
    "bradley_terry": "elicit.training.losses",
    "comparisons": "elicit.training.data",
    "export_model": "elicit.training.export",
    "label_targets": "elicit.training.data",
    "load_adapter": "elicit.training.export",
    "load_causal_lm": "elicit.training.model",
    "load_sequence_model": "elicit.training.model",
    "make_classifier": "elicit.training.classifier",
    "pairwise_accuracy": "elicit.training.reward",
    "read_targets": "elicit.training.data",
    "save_adapter": "elicit.training.export",
    "soft_cross_entropy": "elicit.training.losses",
    "train": "elicit.training.loop",
    "train_classifier": "elicit.training.classifier",
    "train_completions": "elicit.training.sft",
    "train_reward_model": "elicit.training.reward",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'elicit.training' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BestOfN",
    "Classifier",
    "ClassifierLoss",
    "Comparison",
    "Completion",
    "FitOptions",
    "FitResult",
    "FitRun",
    "FitTask",
    "RewardModel",
    "RewardTrainResult",
    "SFTResult",
    "Targets",
    "TrainResult",
    "best_of_n",
    "bradley_terry",
    "comparisons",
    "export_model",
    "label_targets",
    "load_adapter",
    "load_causal_lm",
    "load_sequence_model",
    "make_classifier",
    "pairwise_accuracy",
    "read_targets",
    "save_adapter",
    "soft_cross_entropy",
    "train",
    "train_classifier",
    "train_completions",
    "train_reward_model",
]
