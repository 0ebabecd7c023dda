"""Fixtures shared by the test modules (a module may define its own under the same name)."""

from pathlib import Path

import pytest

PRETRAINED = Path(__file__).parents[1] / "pretrained"


@pytest.fixture(scope="module")
def model():
    """The crustal v2 weights (a fixed version, so that results do not move with releases)."""
    from seisbench_genie import GENIE

    return GENIE.load(PRETRAINED / "crustal", version_str="2")


@pytest.fixture(scope="module")
def day():
    """One hour of the crustal benchmark scenario: 12 events, 30 % false picks."""
    from seisbench_genie.synthetic import make_scenario

    return make_scenario("crustal", n_events=12, noise=0.3, duration_s=3600.0, seed=11)
