"""Fixtures of the reporting tests (defined in reporting_runs, importable by the test modules)."""

from reporting_runs import runs

__all__ = ["runs"]
