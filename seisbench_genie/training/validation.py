"""Validation of a trained model on held-out synthetic stretches, scored with the project's
metrics (event F1 after Puente et al. 2025)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seisbench_genie.metrics import evaluate
from seisbench_genie.synthetic.training import TRAINING_PROJECTION, TrainingGenerator
from seisbench_genie.training.config import TrainingConfig

VALIDATION_DURATION_S = 1800.0


def validation_day(config: TrainingConfig, seed: int, duration_s: float = VALIDATION_DURATION_S
                   ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A held-out stretch on a fresh random layout: picks, stations, events, velocity model.

    Events outside the search region or with fewer than 10 picks are marked
    ``in_network=False`` (not counted for recall, not counted as false when detected).

    Examples
    --------
    >>> # picks, stations, events, model = validation_day(cfg, seed=1)
    """
    base = config.base_velocity_model()
    backend = config_backend(config, base)
    gen = TrainingGenerator(config.scale, config.generator, [backend], seed=seed)
    layout = gen.layout()
    bound = gen.bind(layout, backend)
    day = gen.picks(layout, bound, duration_s, lead_s=config.scale.max_distance_km / 2.5)
    lat, lon = TRAINING_PROJECTION.to_geographic(layout[:, 0], layout[:, 1])
    stations = bound.stations.copy()
    t0 = 1.7e9
    picks = pd.DataFrame({
        "station": stations["id"].to_numpy()[day.pick_station],
        "phase": np.where(day.pick_phase == 1, "S", "P"),
        "time": t0 + day.pick_time, "event": day.pick_event,
    })
    n_picks = np.bincount(day.pick_event[day.pick_event >= 0], minlength=len(day.event_time))
    elat, elon = TRAINING_PROJECTION.to_geographic(day.event_xyz[:, 0], day.event_xyz[:, 1])
    r = day.region
    inside = ((day.event_xyz[:, 0] >= r["x_km"][0]) & (day.event_xyz[:, 0] <= r["x_km"][1])
              & (day.event_xyz[:, 1] >= r["y_km"][0]) & (day.event_xyz[:, 1] <= r["y_km"][1]))
    events = pd.DataFrame({
        "event": np.arange(len(day.event_time)), "time": t0 + day.event_time,
        "latitude": elat, "longitude": elon, "depth_km": day.event_xyz[:, 2],
        "in_network": inside & (n_picks >= 10),
    })
    return picks, stations, events, base


def config_backend(config: TrainingConfig, model: pd.DataFrame):
    from seisbench_genie.traveltimes import get

    return get("layered", model=model, max_distance_km=config.table_max_distance_km,
               max_depth_km=config.table_max_depth_km)


DETECTION_THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5)


def calibrate_thresholds(model, config: TrainingConfig, n_days: int = 2, seed: int = 20_000
                         ) -> dict:
    """Detection threshold with the best mean event F1 on held-out synthetic stretches.

    The network is run once per day; each threshold only changes which peaks are kept, but
    the full pipeline is re-run per threshold for simplicity (stretches are short).

    Returns
    -------
    dict
        ``{"detection_threshold": value}``.
    """
    days = [validation_day(config, seed + i) for i in range(n_days)]
    best, best_f1 = DETECTION_THRESHOLDS[0], -1.0
    for thr in DETECTION_THRESHOLDS:
        f1 = []
        for picks, stations, events, base in days:
            out = model.classify(picks[["station", "phase", "time"]], stations,
                                 velocity_model=config_backend(config, base),
                                 detection_threshold=thr)
            f1.append(evaluate(picks, out.assignments, events, out.events).event_f1)
        if np.mean(f1) > best_f1 + 1e-9:
            best, best_f1 = thr, float(np.mean(f1))
    return {"detection_threshold": best}


def validation_scores(model, config: TrainingConfig, n_days: int = 2, seed: int = 10_000
                      ) -> dict:
    """Run ``model.classify`` on ``n_days`` held-out stretches and score them.

    Returns
    -------
    dict
        ``event_f1`` (mean), ``event_precision``, ``event_recall``, ``pick_f1`` and the
        per-day event F1 list ``event_f1_per_day``.
    """
    per_day = []
    for i in range(n_days):
        picks, stations, events, base = validation_day(config, seed + i)
        out = model.classify(picks[["station", "phase", "time"]], stations,
                             velocity_model=config_backend(config, base))
        per_day.append(evaluate(picks, out.assignments, events, out.events).as_dict())
    keys = ("event_f1", "event_precision", "event_recall", "pick_f1")
    summary = {k: float(np.mean([d[k] for d in per_day])) for k in keys}
    summary["event_f1_per_day"] = [d["event_f1"] for d in per_day]
    summary["n_days"] = n_days
    summary["day_duration_s"] = VALIDATION_DURATION_S
    return summary
