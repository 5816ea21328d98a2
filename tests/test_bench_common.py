"""The benchmarks' `--set KEY=VALUE` options reach `elicit label`, nested search options too."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_common import label_settings, variant_name

from elicit.commands.label import LabelConfig
from elicit.errors import ConfigError


def test_label_settings_parse_each_option_as_its_type() -> None:
    settings = label_settings(["mp=balanced", "complete=true", "alpha=30", "init-size=4"])
    assert settings == {"mp": "balanced", "complete": True, "alpha": 30.0, "init_size": 4}
    config = LabelConfig(task="sst2", **settings)
    assert (config.search.mp, config.search.complete, config.search.init_size) == (
        "balanced",
        True,
        4,
    )
    assert variant_name(settings) == "alpha=30.0,complete=True,init_size=4,mp=balanced"
    assert variant_name({}) == "default"


@pytest.mark.parametrize("item", ["bogus=1", "mp=nonsense", "alpha=many"])
def test_label_settings_refuse_what_label_would(item: str) -> None:
    with pytest.raises((SystemExit, ConfigError)):
        label_settings([item])
