"""The commands layer: what `elicit <command>` runs, from a config to a finished run directory.

Each module turns a command's config (its flags) into a run: it loads the task and the model,
opens the run directory (`elicit.runs`), calls the algorithms below it, and writes labels,
predictions, tidy result rows, metrics and plots. The algorithms themselves (`search`,
`training`, `evaluation`, `w2s`, `selfimprove`) know nothing of run directories or of each
other's commands, and never import from here; `cli` sits on top and imports these modules
lazily, so `elicit --help` loads none of them.

    label             `elicit label`: LabelConfig, run_label, typed label metrics
    workers           the batches of `elicit label --workers N` on Ray
    iterative         `elicit label --iterative`: fine-tune on earlier batches' labels
    evaluate          `elicit eval`: EvalConfig, run_eval (the methods: `evaluation.methods`)
    score             `elicit score`: zero-shot scores of one model on one task
    train             `elicit train`: TrainConfig, run_train, typed train metrics
    train_classifier  its classifier path (label words or a linear head)
    train_reward      its reward-model path (pairwise accuracy, best-of-n)
    w2s               `elicit w2s`: run_w2s, typed weak-to-strong metrics
    selfimprove       `elicit self-improve`: SelfImproveConfig, run_self_improve
    demo              `elicit demo`: one label run and one eval run on a bundled sample
"""
