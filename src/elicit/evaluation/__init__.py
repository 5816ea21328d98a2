"""Metrics, tidy result rows, and the evaluation commands built on the LM protocol."""
