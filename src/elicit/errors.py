"""User-facing errors.

An `ElicitError` is a mistake the user can fix (a bad file, a wrong flag, a missing extra).
The CLI prints its message as one paragraph and exits with status 2, never a traceback;
anything else is a bug and keeps its traceback. Messages name the input, the problem and
the fix, e.g. "data.csv, line 7: label 'maybe' is not one of 0/1/true/false. Fix the value
or pass --label-column to read another column."
"""

from __future__ import annotations


class ElicitError(Exception):
    """An error caused by user input or environment, with a message that says how to fix it."""


class DataError(ElicitError):
    """A data file (or data set id) that cannot be read as the requested task."""


class ConfigError(ElicitError):
    """A configuration value or a combination of values that cannot work."""


class BackendError(ElicitError):
    """A model backend that cannot be constructed or cannot do what was asked."""
