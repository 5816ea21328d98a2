"""Self-improvement from unlabeled questions: LMSI (Huang et al. 2022, arXiv 2210.11610).

Sample chain-of-thought paths per question, vote (self-consistency), keep the paths that
reach the majority, fine-tune on them in four formats, and compare accuracy before and after.
`elicit self-improve --task gsm8k` runs it (`elicit.commands.selfimprove`); the pieces, one concern per module:

    questions  question sets (gsm8k, arithmetic, sciq), exemplars, gold kept apart
    extract    the final answer of a reasoning path, canonical per answer kind
    prompts    few-shot CoT prompts and the four training formats
    sampling   paths through the LM protocol; vote  majority and agreement
    evaluate   greedy / self-consistency accuracy rows; plots  before/after, agreement
    finetune   the one call into elicit.training (completion SFT)
"""

from elicit.selfimprove.extract import extract_answer
from elicit.selfimprove.prompts import FORMATS, TrainingExample, training_examples
from elicit.selfimprove.questions import (
    AnswerKind,
    Exemplar,
    Question,
    QuestionSet,
    load_exemplars,
    load_questions,
    sample_questions,
)
from elicit.selfimprove.sampling import Sampled, sample_paths
from elicit.selfimprove.vote import Vote, majority_vote

__all__ = [
    "FORMATS",
    "AnswerKind",
    "Exemplar",
    "Question",
    "QuestionSet",
    "Sampled",
    "TrainingExample",
    "Vote",
    "extract_answer",
    "load_exemplars",
    "load_questions",
    "majority_vote",
    "sample_paths",
    "sample_questions",
    "training_examples",
]
