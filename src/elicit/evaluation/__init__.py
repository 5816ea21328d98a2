"""Metrics, tidy result rows, the baselines and the method registry of `elicit eval`, built on
the LM protocol. The commands that run them (`elicit eval`, `elicit score`) are
`elicit.commands.evaluate` and `elicit.commands.score`."""
