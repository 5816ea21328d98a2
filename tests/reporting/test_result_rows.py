"""results.jsonl read back as `ResultRow`s: this version's rows, older ones, other row types."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from elicit.errors import DataError
from elicit.evaluation.results import ResultRow
from elicit.reporting.discover import result_rows
from elicit.w2s.curve import CurveRow

ROW = ResultRow("sst2", "m", "zero-shot", "test", 10, 0, "accuracy", 0.8, 0.5, 0.95)


def test_rows_round_trip_and_null_reads_as_nan() -> None:
    assert ResultRow.from_dict(ROW.to_dict()) == ROW
    nan = ResultRow.from_dict({**ROW.to_dict(), "value": None, "ci_low": None})
    assert math.isnan(nan.value) and nan.ci_low is None
    curve = CurveRow("t", "m", "w2s-xent", "val", 4, 1, "curve_accuracy", 0.5, step=3)
    assert CurveRow.from_dict(curve.to_dict()) == curve
    assert ResultRow.from_dict(curve.to_dict()) == ResultRow(
        "t", "m", "w2s-xent", "val", 4, 1, "curve_accuracy", 0.5
    )
    old = {k: v for k, v in ROW.to_dict().items() if not k.startswith("ci_")}
    assert ResultRow.from_dict(old).ci_high is None


@pytest.mark.parametrize(
    "change",
    [{"metric": "DROP"}, {"n": "DROP"}, {"value": "high"}, {"n": 2.5}, {"seed": True}],
)
def test_a_row_that_is_no_row_is_refused(change: dict[str, object]) -> None:
    d = {**ROW.to_dict(), **change}
    with pytest.raises(DataError):
        ResultRow.from_dict({k: v for k, v in d.items() if v != "DROP"})


def test_result_rows_skips_lines_that_are_not_rows(tmp_path: Path) -> None:
    lines = [json.dumps(ROW.to_dict()), json.dumps({"metric": "accuracy"}), "[1, 2]", '{"torn']
    (tmp_path / "results.jsonl").write_text("\n".join(lines), encoding="utf-8")
    assert result_rows(tmp_path) == [ROW]
