"""Weak-to-strong figures: the student-size figure's points, and every figure drawn to a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from elicit.w2s.plots import plot_sizes, plot_table, size_points

SIZES = {"small": 100e6, "large": 1e9}


def rows() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for strong, ceiling in (("large", 0.9), ("small", 0.7)):
        for seed, noise in ((0, -0.02), (1, 0.02)):
            for method, value in (("weak", 0.6), ("w2s-xent", ceiling - 0.1), ("ceiling", ceiling)):
                out.append(dict(task="sst2", strong=strong, method=method, metric="accuracy",
                                split="test", seed=seed, value=value + noise))  # fmt: skip
            out.append(dict(task="sst2", strong=strong, method="w2s-xent", metric="pgr",
                            split="test", seed=seed, value=0.5))  # fmt: skip
    # Not points: another student of unknown size, a curve row, a row without a value.
    out.append(dict(task="sst2", strong="huge", method="weak", metric="accuracy", split="test",
                    seed=0, value=0.1))  # fmt: skip
    out.append(dict(task="sst2", strong="large", method="weak", metric="accuracy", split="test",
                    seed=0, value=0.0, step=3))  # fmt: skip
    out.append(dict(task="sst2", strong="large", method="weak", metric="auroc", split="test",
                    seed=0, value=None))  # fmt: skip
    # An earlier run of seed 0, appended before this one: the later rows replace it.
    stale = dict(task="sst2", strong="small", method="ceiling", metric="accuracy", split="test",
                 seed=0, value=0.1)  # fmt: skip
    return [stale, *out]


def test_size_points_are_means_over_seeds_in_order_of_size() -> None:
    points = size_points(rows(), SIZES)
    assert set(points) == {("accuracy", "weak"), ("accuracy", "w2s-xent"),
                           ("accuracy", "ceiling"), ("pgr", "w2s-xent")}  # fmt: skip
    ceiling = points[("accuracy", "ceiling")]
    assert [x for x, _, _ in ceiling] == [100e6, 1e9]
    assert [round(m, 6) for _, m, _ in ceiling] == [0.7, 0.9]
    assert ceiling[0][2] == pytest.approx(0.0283, abs=1e-3)  # sd of 0.68 and 0.72


def test_figures_are_written(tmp_path: Path) -> None:
    png = plot_sizes(rows(), tmp_path / "sizes.png", SIZES, "sst2")
    assert png.stat().st_size > 10_000
    assert plot_table(rows(), tmp_path / "table.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="no test rows"):
        plot_sizes(rows(), tmp_path / "none.png", {"other": 1.0}, "sst2")
    assert not (tmp_path / "none.png").exists()
