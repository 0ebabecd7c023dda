"""Synthetic pick data: benchmark scenarios (Puente et al. 2025), days on your own stations,
and GENIE training days."""

from seisbench_genie.synthetic.scenarios import (
    SCENARIOS,
    Scenario,
    ScenarioSpec,
    crustal_stations,
    load_velocity_model,
    make_custom_scenario,
    make_scenario,
    ridgecrest_stations,
    subduction_stations,
)

__all__ = [
    "SCENARIOS",
    "Scenario",
    "ScenarioSpec",
    "crustal_stations",
    "load_velocity_model",
    "make_custom_scenario",
    "make_scenario",
    "ridgecrest_stations",
    "subduction_stations",
]
