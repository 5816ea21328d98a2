"""Weak-to-strong generalization (Burns et al. 2023): losses, PGR, weak supervisors, students.

Modules: losses (confidence, product and cross-entropy losses), pgr (PGR and agreement), splits
(halves, a validation slice and a balanced test set), tfidf (a non-LM weak supervisor), probe
(linear probes on frozen features, fine-tune-then-probe), curve (training curves and early
stopping on weak labels), easy_hard (easy-to-hard splits), generative (the unsupervised
language-modelling pass), learner (the models: a `Learner` per model, the weak supervisor's
labels), students (the strong students as plans, trained by one loop), config (`W2SConfig`), plots.
The `elicit w2s` command (typed metrics and the protocol) is `elicit.commands.w2s`.
"""

#: Loss names `losses.make_loss` and `elicit w2s --losses` accept (here, so the CLI's help
#: does not import torch).
LOSSES = ("xent", "confidence", "confidence-code", "product")
