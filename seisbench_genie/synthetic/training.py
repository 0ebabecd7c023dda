"""On-the-fly synthetic training samples for the GENIE network, vectorised.

Each sample is a short stretch of continuous picks on a random station layout with a random
1-D velocity model: events at a rate varying between samples, a magnitude-like detection radius
with per-station jitter, travel-time noise growing with travel time plus a per-event bias,
station dropout, coda picks, Poisson false picks, network-wide bursts of coincident false picks
and wrong phase labels. Labels are Gaussian kernels around the true sources in space and origin
time, and per-phase association labels for (source, pick) pairs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd
import torch

from seisbench_genie.geo import LocalProjection
from seisbench_genie.nn.candidates import (
    AssociationCandidates,
    association_candidates,
    travel_times_within,
)
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.nn.features import PickIndex, window_features
from seisbench_genie.nn.graphs import RegionGraph, build_region_graph, source_nodes
from seisbench_genie.traveltimes import TravelTimeBackend

TRAINING_PROJECTION = LocalProjection(0.0, 0.0)
#: Apparent velocities (km/s) of arrivals from outside the network: regional Pn (6-12) to
#: teleseismic P (up to 25).
REGIONAL_APPARENT_VELOCITY_KM_S = (6.0, 25.0)
#: Plane waves slower than this (km/s) are regional events, whose S is picked too ...
REGIONAL_S_BELOW_KM_S = 12.0
#: ... this many seconds after their P (S-P times of events 150-800 km away).
REGIONAL_S_DELAY_S = (20.0, 90.0)


@dataclass(frozen=True)
class SyntheticDayConfig:
    """Parameters of the synthetic training generator (ranges are drawn per sample).

    Parameters
    ----------
    n_stations
        Number of stations (min, max).
    aperture_km
        Longest side of the station layout (km).
    aspect_ratio
        Ratio of the layout's long to short side.
    elevation_m
        Station elevation range (m).
    segment_s
        Length of the stretch of picks whose windows are labelled (s).
    event_rate_per_hour
        Event rate range (events per hour).
    false_pick_rate_per_station_hour
        Poisson false-pick rate range per station (picks per hour).
    bursts
        Number (min, max) of network-wide bursts of coincident false picks per sample.
    detection_radius_km
        Range of the per-event detection radius (hypocentral km); drawn from a Beta(2, 3)
        mapped into the range, so small events dominate.
    radius_jitter_km
        Per-station, per-phase standard deviation of the detection radius (km).
    station_dropout
        Fraction of stations missing each event.
    pick_noise_s
        Range of the absolute pick-time noise standard deviation (s).
    pick_noise_relative
        Range of the noise standard deviation as a fraction of the travel time.
    event_bias_relative
        Standard deviation of a per-event travel-time scaling error.
    wrong_phase_fraction
        Fraction of true picks carrying the other phase's label.
    coda_fraction
        Fraction of arrivals followed by a spurious coda pick 1-20 s later.
    min_event_picks
        Events with fewer picks are not labelled as sources.
    padding_km
        Band around the search region where events make picks but get zero labels.
    n_windows
        Windows per sample (half at event origin times, half random).
    n_queries
        Query points for the continuous source field per sample.
    n_association_sources
        Source queries for the association head per sample (some without event).
    velocity_perturbation
        Relative spread of the random velocity models around the base model.
    magnitude_detection_fraction
        Fraction of samples whose events are detected by a magnitude law instead of the
        ``detection_radius_km`` draw (0: never). Magnitudes follow Gutenberg-Richter
        (``b_value``, within ``magnitude_range``); the P detection radius (hypocentral km) is
        ``r1 * 10 ** (slope * (M - 1))`` with ``r1`` drawn per sample from
        ``radius_at_m1_km`` and ``slope`` from ``radius_slope``, capped at the scale's
        ``max_distance_km``; the S radius is ``s_radius_factor`` times it. A station detects
        an arrival with a logistic probability whose edge is ``detection_edge_fraction`` of
        the radius wide, the radius scaled per station by a log-normal gain
        (``station_gain_sigma``, natural log). Small events then dominate, as in real
        catalogs, and many are seen by the nearest few stations only.
    b_value, magnitude_range, radius_at_m1_km, radius_slope, s_radius_factor, \
detection_edge_fraction, station_gain_sigma
        The magnitude law (see ``magnitude_detection_fraction``); the 12-88 % transition of
        the logistic detection probability spans ``detection_edge_fraction`` of the radius.
    magnitude_event_rate_per_hour
        Event rate range of the samples that use the magnitude law (most of their events are
        too small to be picked at more than a station or two, as in real data).
    aftershock_fraction
        Fraction of events placed as aftershocks of another event of the sample (0: none).
        Parents are chosen with heavy-tailed weights (a few sequences hold most
        aftershocks); an aftershock lies within ``cluster_radius_km`` (Gaussian, drawn per
        sample) of its parent and follows it after an Omori-Utsu delay (``omori_c_s``,
        exponent ``omori_p``), so that arrivals of events seconds apart interleave.
    cluster_radius_km, omori_c_s, omori_p
        The aftershock clustering (see ``aftershock_fraction``).
    station_static_s
        Range of the standard deviation (s) of per-station P delays drawn per sample (real
        stations on different geology than the 1-D model); the S delay is
        ``static_s_ratio`` times the P delay.
    static_s_ratio
        Ratio of S to P station delays.
    azimuthal_velocity_error
        Range of the amplitude of a relative travel-time error that varies smoothly with the
        azimuth from source to station (first and second azimuthal harmonics, phases drawn
        per sample): 3-D structure seen through a 1-D model, correlated between neighbouring
        stations.
    pick_error_distribution
        ``"normal"`` or ``"laplace"`` (heavier tails) pick-time noise.
    outlier_fraction
        Fraction of (P, S) picks displaced by up to ``outlier_spread_s`` (uniform, either
        sign): picks on a later phase or on noise.
    outlier_spread_s
        Largest displacement (s) of an outlier pick.
    s_miss_fraction
        Fraction of S arrivals that the picker misses beyond the station dropout (pickers
        recall fewer S than P).
    duplicate_fraction
        Fraction of picks followed by a second pick of the same label 0.3-0.6 s later (two
        picks on one arrival).
    regional_arrivals_per_hour
        Range of the rate of arrivals from outside the network: a plane wave crossing the
        stations (apparent velocity 6-25 km/s, random azimuth) picked at 40-100 % of them,
        with a P and, for the slower (regional) ones, an S about 0.7 x the travel time later;
        false picks for the association.

    Examples
    --------
    >>> SyntheticDayConfig(n_stations=(5, 10)).n_stations
    (5, 10)
    """

    n_stations: tuple[int, int] = (10, 80)
    aperture_km: tuple[float, float] = (60.0, 400.0)
    aspect_ratio: tuple[float, float] = (1.0, 3.0)
    elevation_m: tuple[float, float] = (0.0, 2000.0)
    segment_s: float = 300.0
    event_rate_per_hour: tuple[float, float] = (0.0, 250.0)
    false_pick_rate_per_station_hour: tuple[float, float] = (0.0, 400.0)
    bursts: tuple[int, int] = (0, 2)
    detection_radius_km: tuple[float, float] = (30.0, 160.0)
    radius_jitter_km: float = 15.0
    station_dropout: float = 0.2
    pick_noise_s: tuple[float, float] = (0.02, 0.3)
    pick_noise_relative: tuple[float, float] = (0.0, 0.02)
    event_bias_relative: float = 0.01
    wrong_phase_fraction: float = 0.1
    coda_fraction: float = 0.03
    min_event_picks: int = 8
    padding_km: float = 40.0
    n_windows: int = 16
    n_queries: int = 192
    n_association_sources: int = 12
    velocity_perturbation: float = 0.08
    magnitude_detection_fraction: float = 0.0
    b_value: float = 1.0
    magnitude_range: tuple[float, float] = (-0.5, 5.0)
    radius_at_m1_km: tuple[float, float] = (5.0, 20.0)
    radius_slope: tuple[float, float] = (0.6, 0.8)
    s_radius_factor: tuple[float, float] = (0.8, 1.2)
    detection_edge_fraction: float = 0.25
    station_gain_sigma: float = 0.3
    aftershock_fraction: float = 0.0
    cluster_radius_km: tuple[float, float] = (0.5, 6.0)
    omori_c_s: tuple[float, float] = (1.0, 30.0)
    omori_p: float = 1.1
    station_static_s: tuple[float, float] = (0.0, 0.0)
    static_s_ratio: float = 1.73
    azimuthal_velocity_error: tuple[float, float] = (0.0, 0.0)
    pick_error_distribution: str = "normal"
    outlier_fraction: tuple[float, float] = (0.0, 0.0)
    outlier_spread_s: float = 1.5
    s_miss_fraction: float = 0.0
    duplicate_fraction: float = 0.0
    regional_arrivals_per_hour: tuple[float, float] = (0.0, 0.0)
    magnitude_event_rate_per_hour: tuple[float, float] = (0.0, 2000.0)

    def __post_init__(self) -> None:
        def check_range(name, lo_min=0.0):
            lo, hi = getattr(self, name)
            if lo < lo_min or hi < lo:
                raise ValueError(f"{name}: need {lo_min} <= min <= max, got {(lo, hi)}")
            object.__setattr__(self, name, (type(lo)(lo), type(hi)(hi)))

        check_range("n_stations", 2)
        for name in ("aperture_km", "elevation_m", "event_rate_per_hour",
                     "false_pick_rate_per_station_hour", "bursts", "detection_radius_km",
                     "pick_noise_s", "pick_noise_relative", "radius_at_m1_km", "radius_slope",
                     "s_radius_factor", "cluster_radius_km", "omori_c_s", "station_static_s",
                     "azimuthal_velocity_error", "regional_arrivals_per_hour",
                     "magnitude_event_rate_per_hour"):
            check_range(name)
        check_range("magnitude_range", -10.0)
        lo, hi = self.outlier_fraction
        if not (0 <= lo < 1 and 0 <= hi < 1):
            raise ValueError(f"outlier_fraction: (P, S) fractions in [0, 1), got {(lo, hi)}")
        object.__setattr__(self, "outlier_fraction", (float(lo), float(hi)))
        if self.pick_error_distribution not in ("normal", "laplace"):
            raise ValueError("pick_error_distribution: 'normal' or 'laplace', got "
                             f"{self.pick_error_distribution!r}")
        for name in ("magnitude_detection_fraction", "aftershock_fraction", "s_miss_fraction",
                     "duplicate_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        for name in ("b_value", "detection_edge_fraction", "omori_p", "static_s_ratio"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")
        if self.omori_p <= 1:
            raise ValueError(f"omori_p: must be > 1 (a finite mean delay), got {self.omori_p}")
        check_range("aspect_ratio", 1.0)
        if self.aperture_km[0] <= 0:
            raise ValueError("aperture_km: must be > 0")
        for name in ("station_dropout", "wrong_phase_fraction", "coda_fraction"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name}: must be in [0, 1), got {getattr(self, name)}")
        for name in ("segment_s", "n_windows", "n_queries"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be > 0, got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> SyntheticDayConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"generator: unknown field(s) {sorted(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass
class SyntheticPicks:
    """A stretch of synthetic picks with ground truth (local km frame, times in s)."""

    station_xyz: np.ndarray       # (M, 3) x, y, -elevation (km)
    event_xyz: np.ndarray         # (V, 3) x, y, depth (km)
    event_time: np.ndarray        # (V,) origin time (s)
    event_active: np.ndarray      # (V,) bool: labelled source (inside region, enough picks)
    pick_station: np.ndarray      # (P,) station index
    pick_time: np.ndarray         # (P,) s
    pick_phase: np.ndarray        # (P,) label 0 = P, 1 = S
    pick_event: np.ndarray        # (P,) true event, -1 false pick
    pick_true_phase: np.ndarray   # (P,) true phase of the arrival, -1 false pick
    region: dict                  # x_km, y_km, depth_km ranges


@dataclass
class TrainingSample:
    """One training sample: graphs, inputs and labels."""

    graph: RegionGraph
    features: torch.Tensor          # (B, E, 4 or 8)
    node_labels: torch.Tensor       # (B, N)
    query_window: torch.Tensor      # (Q,)
    query_xyz: torch.Tensor         # (Q, 3)
    query_labels: torch.Tensor      # (Q,)
    assoc_window: torch.Tensor      # (J,)
    assoc_xyz: torch.Tensor         # (J, 3)
    candidates: AssociationCandidates
    assoc_labels: torch.Tensor      # (K, 2)


def random_velocity_models(base: pd.DataFrame, n: int, spread: float, seed: int
                           ) -> list[pd.DataFrame]:
    """Random 1-D layered models around ``base`` (columns depth_km, vp, vs).

    Velocities are scaled per layer by ``1 + N(0, spread)`` (kept increasing with depth),
    Vp/Vs drawn in 1.68-1.80 and interface depths jittered by up to 20 %.

    Examples
    --------
    >>> base = pd.DataFrame({"depth_km": [0, 10], "vp": [5.5, 6.5], "vs": [3.2, 3.7]})
    >>> len(random_velocity_models(base, 3, 0.05, 0))
    3
    """
    rng = np.random.default_rng(seed)
    out = []
    depth = base["depth_km"].to_numpy(float)
    vp = base["vp"].to_numpy(float)
    for i in range(n):
        if i == 0:
            out.append(base[["depth_km", "vp", "vs"]].reset_index(drop=True))
            continue
        thickness = np.diff(depth) * rng.uniform(0.8, 1.2, len(depth) - 1)
        d = depth[0] + np.r_[0.0, np.cumsum(thickness)]
        p = np.maximum.accumulate(vp * (1 + rng.normal(0, spread, len(vp))).clip(0.7, 1.3))
        ratio = rng.uniform(1.68, 1.80)
        out.append(pd.DataFrame({"depth_km": d, "vp": p, "vs": p / ratio}))
    return out


class TrainingGenerator:
    """Draws :class:`TrainingSample` objects.

    Parameters
    ----------
    scale
        Model scale.
    config
        Generator parameters.
    backends
        Travel-time backends (random velocity models); one is drawn per sample. Their tables
        must cover ``scale.max_distance_km`` plus the layout and the scale's depth range.
    seed
        Random seed.
    signed_residuals
        Features with the signed residual channels (for networks built with them).

    Examples
    --------
    >>> from seisbench_genie.traveltimes import get
    >>> sc = ModelScale("t", 50.0, 25.0, (0, 30), 150.0, 2.0, 2.0)
    >>> gen = TrainingGenerator(sc, SyntheticDayConfig(n_stations=(8, 10),
    ...     aperture_km=(60, 80)), [get("homogeneous")], seed=0)
    >>> gen.sample().features.shape[-1]
    4
    """

    def __init__(self, scale: ModelScale, config: SyntheticDayConfig,
                 backends: list[TravelTimeBackend], seed: int = 0,
                 signed_residuals: bool = False):
        if not backends:
            raise ValueError("backends: need at least one travel-time backend")
        self.scale = scale
        self.config = config
        self.backends = backends
        self.rng = np.random.default_rng(seed)
        self.signed_residuals = signed_residuals

    # ------------------------------------------------------------------ picks
    def layout(self) -> np.ndarray:
        """Random station layout (M, 3): x, y, -elevation (km)."""
        cfg, rng = self.config, self.rng
        m = int(rng.integers(cfg.n_stations[0], cfg.n_stations[1] + 1))
        a = rng.uniform(*cfg.aperture_km)
        b = a / rng.uniform(*cfg.aspect_ratio)
        xy = rng.uniform(-0.5, 0.5, (m, 2)) * [a, b]
        if rng.random() < 0.5:  # clustered layouts: pull half the stations to a few centres
            centres = rng.uniform(-0.5, 0.5, (3, 2)) * [a, b]
            pull = rng.random(m) < 0.5
            xy[pull] = centres[rng.integers(0, 3, pull.sum())] + rng.normal(
                0, 0.08 * a, (pull.sum(), 2))
        theta = rng.uniform(0, np.pi)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        xy = xy @ rot.T
        elev = rng.uniform(*cfg.elevation_m, m) / 1000.0
        return np.column_stack([xy, -elev])

    def region_of(self, station_xyz: np.ndarray) -> dict:
        margin = self.scale.margin_km
        lo, hi = station_xyz[:, :2].min(0) - margin, station_xyz[:, :2].max(0) + margin
        return {"x_km": (lo[0], hi[0]), "y_km": (lo[1], hi[1]), "depth_km": self.scale.depth_km}

    def picks(self, station_xyz: np.ndarray, bound, duration_s: float, lead_s: float
              ) -> SyntheticPicks:
        """Simulate picks of events with origin times in [-lead_s, duration_s].

        Options of the config that are off (their defaults) draw no random numbers, so a
        config without them gives the same samples for a seed as before they existed.
        """
        cfg, rng, sc = self.config, self.rng, self.scale
        region = self.region_of(station_xyz)
        m = len(station_xyz)
        span = duration_s + lead_s
        by_magnitude = (cfg.magnitude_detection_fraction > 0
                        and rng.random() < cfg.magnitude_detection_fraction)
        rate_range = (cfg.magnitude_event_rate_per_hour if by_magnitude
                      else cfg.event_rate_per_hour)
        rate = rng.uniform(*rate_range) / 3600.0
        n_ev = int(rng.poisson(rate * span)) + int(rng.random() < 0.7)
        pad = cfg.padding_km
        ev = np.column_stack([
            rng.uniform(region["x_km"][0] - pad, region["x_km"][1] + pad, n_ev),
            rng.uniform(region["y_km"][0] - pad, region["y_km"][1] + pad, n_ev),
            rng.uniform(*sc.depth_km, n_ev),
        ])
        origin = rng.uniform(-lead_s, duration_s, n_ev)
        if cfg.aftershock_fraction > 0 and n_ev > 1:
            ev, origin = self._aftershocks(ev, origin, lead_s, duration_s)
        inside = ((ev[:, 0] >= region["x_km"][0]) & (ev[:, 0] <= region["x_km"][1])
                  & (ev[:, 1] >= region["y_km"][0]) & (ev[:, 1] <= region["y_km"][1]))
        if not by_magnitude:
            lo, hi = cfg.detection_radius_km
            radius = lo + (hi - lo) * rng.beta(2.0, 3.0, n_ev)
        epi = np.hypot(ev[:, None, 0] - station_xyz[None, :, 0],
                       ev[:, None, 1] - station_xyz[None, :, 1])
        hypo = np.hypot(epi, ev[:, None, 2] - station_xyz[None, :, 2])
        alive = rng.random((n_ev, m)) >= cfg.station_dropout
        reach = epi <= sc.max_distance_km
        if by_magnitude:
            seen = self._detected_by_magnitude(hypo, alive & reach)
        else:
            seen = {}
            for ph in (0, 1):
                jitter = rng.normal(0, cfg.radius_jitter_km, (n_ev, m))
                seen[ph] = (hypo + jitter <= radius[:, None]) & alive & reach
        if cfg.s_miss_fraction > 0:
            seen[1] &= rng.random((n_ev, m)) >= cfg.s_miss_fraction
        bias = 1.0 + rng.normal(0, cfg.event_bias_relative, n_ev)
        sig_abs = rng.uniform(*cfg.pick_noise_s)
        sig_rel = rng.uniform(*cfg.pick_noise_relative)
        model_error = self._model_error(ev, station_xyz)
        frames = []
        for ph in (0, 1):
            e_i, s_i = np.nonzero(seen[ph])
            if len(e_i) == 0:
                continue
            with torch.no_grad():
                tt = bound.pair_times(torch.as_tensor(ev[e_i]), torch.as_tensor(s_i),
                                      "PS"[ph]).numpy()
            sigma = (sig_abs + sig_rel * tt) * (1.5 if ph else 1.0)
            if model_error is not None:
                relative, static = model_error
                tt = tt * (1.0 + relative[e_i, s_i]) + static[ph][s_i]
            t = origin[e_i] + tt * bias[e_i] + self._pick_noise(sigma, ph)
            frames.append(np.column_stack([s_i, t, np.full(len(t), ph), e_i, np.full(len(t), ph)]))
        true = np.concatenate(frames) if frames else np.zeros((0, 5))
        n_picks = np.bincount(true[:, 3].astype(int), minlength=n_ev) if len(true) else \
            np.zeros(n_ev, int)
        active = inside & (n_picks >= cfg.min_event_picks)
        flip = rng.random(len(true)) < cfg.wrong_phase_fraction
        true[flip, 2] = 1 - true[flip, 2]
        # Coda picks: spurious picks shortly after an arrival.
        coda = true[rng.random(len(true)) < cfg.coda_fraction].copy()
        coda[:, 1] += rng.uniform(1.0, 20.0, len(coda))
        coda[:, 2] = rng.integers(0, 2, len(coda))
        coda[:, 3:] = -1
        # Poisson false picks, uniform over time, stations and phase labels.
        lam = rng.uniform(*cfg.false_pick_rate_per_station_hour) / 3600.0
        n_false = int(rng.poisson(lam * span * m))
        false = np.column_stack([
            rng.integers(0, m, n_false), rng.uniform(-lead_s, duration_s, n_false),
            rng.integers(0, 2, n_false), -np.ones(n_false), -np.ones(n_false)])
        # Bursts of near-coincident false picks across much of the network.
        bursts = []
        for _ in range(int(rng.integers(cfg.bursts[0], cfg.bursts[1] + 1))):
            on = np.flatnonzero(rng.random(m) < rng.uniform(0.3, 0.9))
            tb = rng.uniform(-lead_s, duration_s)
            bursts.append(np.column_stack([
                on, tb + rng.normal(0, 0.15, len(on)), rng.integers(0, 2, len(on)),
                -np.ones(len(on)), -np.ones(len(on))]))
        extra = []
        if cfg.duplicate_fraction > 0:
            twin = true[rng.random(len(true)) < cfg.duplicate_fraction].copy()
            twin[:, 1] += rng.uniform(0.3, 0.6, len(twin))
            twin[:, 3:] = -1
            extra.append(twin)
        if cfg.regional_arrivals_per_hour[1] > 0:
            extra.append(self._regional_arrivals(station_xyz, lead_s, duration_s))
        allp = np.concatenate([true, coda, false, *bursts, *extra])
        allp = allp[np.argsort(allp[:, 1], kind="stable")]
        return SyntheticPicks(
            station_xyz=station_xyz, event_xyz=ev, event_time=origin, event_active=active,
            pick_station=allp[:, 0].astype(np.int64), pick_time=allp[:, 1],
            pick_phase=allp[:, 2].astype(np.int64), pick_event=allp[:, 3].astype(np.int64),
            pick_true_phase=allp[:, 4].astype(np.int64), region=region,
        )

    # ------------------------------------------------------------------ options
    def _aftershocks(self, ev: np.ndarray, origin: np.ndarray, lead_s: float,
                     duration_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Turn ``aftershock_fraction`` of the events into aftershocks of the others."""
        cfg, rng, sc = self.config, self.rng, self.scale
        n = len(ev)
        child = rng.random(n) < cfg.aftershock_fraction
        child[np.argmin(origin)] = False  # the earliest event starts a sequence
        parents = np.flatnonzero(~child)
        # Heavy-tailed productivity: a few sequences hold most aftershocks.
        weight = rng.pareto(1.0, len(parents)) + 1.0
        parent = parents[rng.choice(len(parents), child.sum(), p=weight / weight.sum())]
        core_km = rng.uniform(*cfg.cluster_radius_km)
        c_s = rng.uniform(*cfg.omori_c_s)
        # Omori-Utsu delays: density (t + c)^-p, by inversion of its distribution.
        u = rng.random(child.sum())
        delay = c_s * ((1.0 - u) ** (-1.0 / (cfg.omori_p - 1.0)) - 1.0)
        ev, origin = ev.copy(), origin.copy()
        ev[child] = ev[parent] + rng.normal(0.0, core_km, (child.sum(), 3))
        ev[child, 2] = ev[child, 2].clip(*sc.depth_km)
        origin[child] = origin[parent] + delay
        late = origin > duration_s  # sequences outlasting the sample: anywhere in it instead
        origin[late] = rng.uniform(-lead_s, duration_s, late.sum())
        return ev, origin

    def _detected_by_magnitude(self, hypo_km: np.ndarray, possible: np.ndarray
                               ) -> dict[int, np.ndarray]:
        """P and S detection (E, M) by a Gutenberg-Richter magnitude and a radius law."""
        cfg, rng, sc = self.config, self.rng, self.scale
        n_ev, m = hypo_km.shape
        lo, hi = cfg.magnitude_range
        # Truncated Gutenberg-Richter by inversion.
        u = rng.random(n_ev)
        mag = lo - np.log10(1.0 - u * (1.0 - 10.0 ** (-cfg.b_value * (hi - lo)))) / cfg.b_value
        r1 = rng.uniform(*cfg.radius_at_m1_km)
        slope = rng.uniform(*cfg.radius_slope)
        radius_p = np.minimum(r1 * 10.0 ** (slope * (mag - 1.0)), sc.max_distance_km)
        gain = np.exp(rng.normal(0.0, cfg.station_gain_sigma, m))
        seen = {}
        for ph, factor in ((0, 1.0), (1, rng.uniform(*cfg.s_radius_factor))):
            radius = radius_p[:, None] * factor * gain[None, :]
            # logistic: the 12-88 % transition (+-2 scales) spans detection_edge_fraction
            scale = cfg.detection_edge_fraction * radius / 4.0
            prob = 1.0 / (1.0 + np.exp(np.clip((hypo_km - radius) / scale, -50, 50)))
            seen[ph] = (rng.random((n_ev, m)) < prob) & possible
        return seen

    def _model_error(self, ev: np.ndarray, station_xyz: np.ndarray
                     ) -> tuple[np.ndarray, dict[int, np.ndarray]] | None:
        """Relative travel-time error by azimuth (E, M) and station delays (s) per phase, or
        None when both options are off."""
        cfg, rng = self.config, self.rng
        if cfg.station_static_s[1] <= 0 and cfg.azimuthal_velocity_error[1] <= 0:
            return None
        m = len(station_xyz)
        static_p = rng.normal(0.0, rng.uniform(*cfg.station_static_s), m)
        static = {0: static_p, 1: cfg.static_s_ratio * static_p}
        amplitude = rng.uniform(*cfg.azimuthal_velocity_error)
        a1, a2 = rng.uniform(0.0, amplitude, 2)
        phi1, phi2 = rng.uniform(0.0, 2 * np.pi, 2)
        azimuth = np.arctan2(station_xyz[None, :, 0] - ev[:, None, 0],
                             station_xyz[None, :, 1] - ev[:, None, 1])
        relative = a1 * np.cos(azimuth - phi1) + a2 * np.cos(2.0 * (azimuth - phi2))
        return relative, static

    def _pick_noise(self, sigma_s: np.ndarray, phase: int) -> np.ndarray:
        """Pick-time errors (s): the configured distribution with standard deviation
        ``sigma_s``, and outliers displaced uniformly by up to ``outlier_spread_s``."""
        cfg, rng = self.config, self.rng
        n = len(sigma_s)
        if cfg.pick_error_distribution == "laplace":
            noise = rng.laplace(0.0, 1.0 / np.sqrt(2.0), n) * sigma_s
        else:
            noise = rng.normal(0, 1, n) * sigma_s
        fraction = cfg.outlier_fraction[phase]
        if fraction > 0:
            out = rng.random(n) < fraction
            noise[out] = rng.uniform(-cfg.outlier_spread_s, cfg.outlier_spread_s, out.sum())
        return noise

    def _regional_arrivals(self, station_xyz: np.ndarray, lead_s: float, duration_s: float
                           ) -> np.ndarray:
        """Picks of plane waves from outside the network (false picks for the association)."""
        cfg, rng = self.config, self.rng
        m = len(station_xyz)
        rate = rng.uniform(*cfg.regional_arrivals_per_hour) / 3600.0
        rows = []
        for _ in range(int(rng.poisson(rate * (duration_s + lead_s)))):
            theta = rng.uniform(0.0, 2 * np.pi)
            velocity = rng.uniform(*REGIONAL_APPARENT_VELOCITY_KM_S)
            slowness = np.array([np.sin(theta), np.cos(theta)]) / velocity
            t0 = rng.uniform(-lead_s, duration_s)
            on = np.flatnonzero(rng.random(m) < rng.uniform(0.4, 1.0))
            t_p = t0 + station_xyz[on, :2] @ slowness
            phases = [(t_p, 0)]
            if velocity < REGIONAL_S_BELOW_KM_S:  # a regional event: its S follows
                phases.append((t0 + rng.uniform(*REGIONAL_S_DELAY_S)
                               + station_xyz[on, :2] @ (slowness * cfg.static_s_ratio), 1))
            for t, ph in phases:
                label = np.where(rng.random(len(on)) < cfg.wrong_phase_fraction, 1 - ph, ph)
                rows.append(np.column_stack([on, t + rng.normal(0, 0.1, len(on)), label,
                                             -np.ones(len(on)), -np.ones(len(on))]))
        return np.concatenate(rows) if rows else np.zeros((0, 5))

    def bind(self, station_xyz: np.ndarray, backend: TravelTimeBackend | None = None):
        """Bind a (random) backend to a layout given in the training frame."""
        backend = backend or self.backends[int(self.rng.integers(len(self.backends)))]
        lat, lon = TRAINING_PROJECTION.to_geographic(station_xyz[:, 0], station_xyz[:, 1])
        stations = pd.DataFrame({"id": [f"SY.S{i:03d}." for i in range(len(station_xyz))],
                                 "latitude": lat, "longitude": lon,
                                 "elevation": -station_xyz[:, 2] * 1000.0})
        return backend.bind(stations, projection=TRAINING_PROJECTION)

    # ------------------------------------------------------------------ labels
    def source_label(self, xyz: np.ndarray, t0: np.ndarray, day: SyntheticPicks) -> np.ndarray:
        """Gaussian source label at points ``xyz`` (..., 3) and times ``t0`` (...,)."""
        sc = self.scale
        act = np.flatnonzero(day.event_active)
        if len(act) == 0:
            return np.zeros(np.broadcast_shapes(xyz.shape[:-1], t0.shape))
        d2 = ((xyz[..., None, :] - day.event_xyz[act]) ** 2).sum(-1)
        dt2 = (t0[..., None] - day.event_time[act]) ** 2
        lab = np.exp(-0.5 * d2 / sc.label_space_km ** 2 - 0.5 * dt2 / sc.label_time_s ** 2)
        return lab.max(-1)

    def sample(self) -> TrainingSample:
        """Draw one training sample."""
        cfg, rng, sc = self.config, self.rng, self.scale
        station_xyz = self.layout()
        bound = self.bind(station_xyz)
        region = self.region_of(station_xyz)
        nodes = source_nodes(region["x_km"], region["y_km"], sc.depth_km, sc.node_spacing_km,
                             sc.node_spacing_km * sc.depth_spacing_factor, jitter=0.3, rng=rng)
        graph = build_region_graph(station_xyz, nodes, sc)
        lead = sc.max_distance_km / 2.5
        day = self.picks(station_xyz, bound, cfg.segment_s, lead)
        src = graph.source_xyz[graph.pair_source].to(torch.float64)
        with torch.no_grad():
            tp = bound.pair_times(src, graph.pair_station, "P").float()
            ts = bound.pair_times(src, graph.pair_station, "S").float()
        # Windows: half at labelled events' origin times, half anywhere in the segment.
        b = cfg.n_windows
        act = np.flatnonzero(day.event_active & (day.event_time >= 0))
        n_ev_win = min(len(act), b // 2)
        chosen = rng.choice(act, n_ev_win, replace=False) if n_ev_win else np.zeros(0, int)
        t0 = np.concatenate([
            day.event_time[chosen] + rng.uniform(-1, 1, n_ev_win) * sc.window_step_s,
            rng.uniform(0, cfg.segment_s, b - n_ev_win)])
        index = PickIndex(torch.as_tensor(day.pick_station), torch.as_tensor(day.pick_time),
                          torch.as_tensor(day.pick_phase))
        feats = window_features(index, torch.as_tensor(t0), graph.pair_station, tp, ts,
                                sc.kernel_s, signed=self.signed_residuals)
        node_lab = self.source_label(nodes[None, :, :], t0[:, None] + 0 * nodes[None, :, 0], day)
        # Continuous-field queries: near labelled events and uniform.
        q = cfg.n_queries
        qw = rng.integers(0, b, q)
        qxyz = np.column_stack([rng.uniform(*region["x_km"], q), rng.uniform(*region["y_km"], q),
                                rng.uniform(*sc.depth_km, q)])
        if n_ev_win:
            near = rng.random(q) < 0.5
            pick_ev = rng.integers(0, n_ev_win, near.sum())
            qw[near] = pick_ev
            qxyz[near] = day.event_xyz[chosen[pick_ev]] + rng.normal(
                0, sc.label_space_km, (near.sum(), 3))
            qxyz[:, 2] = qxyz[:, 2].clip(*sc.depth_km)
        q_lab = self.source_label(qxyz, t0[qw], day)
        # Association queries: perturbed true sources (and a few empty ones).
        n_assoc = min(cfg.n_association_sources, n_ev_win)
        n_empty = max(1, cfg.n_association_sources // 4)
        a_ev = chosen[:n_assoc]
        err = rng.uniform(0, 0.5 * sc.node_spacing_km, (n_assoc, 1))
        a_xyz = np.concatenate([
            day.event_xyz[a_ev] + rng.normal(0, 1, (n_assoc, 3)) * err,
            np.column_stack([rng.uniform(*region["x_km"], n_empty),
                             rng.uniform(*region["y_km"], n_empty),
                             rng.uniform(*sc.depth_km, n_empty)])])
        a_xyz[:, 2] = a_xyz[:, 2].clip(*sc.depth_km)
        a_time = np.concatenate([day.event_time[a_ev] + rng.normal(0, 0.3, n_assoc) * (
            1 + err[:, 0] / 5.0), rng.uniform(0, cfg.segment_s, n_empty)])
        a_window = np.concatenate([np.arange(n_assoc), rng.integers(0, b, n_empty)])
        a_event = np.concatenate([a_ev, -np.ones(n_empty, int)])
        cand, labels = self.association_targets(bound, a_xyz, a_time, a_event, day)
        return TrainingSample(
            graph=graph, features=feats, node_labels=torch.as_tensor(node_lab, dtype=torch.float32),
            query_window=torch.as_tensor(qw), query_xyz=torch.as_tensor(qxyz, dtype=torch.float32),
            query_labels=torch.as_tensor(q_lab, dtype=torch.float32),
            assoc_window=torch.as_tensor(a_window), assoc_xyz=torch.as_tensor(a_xyz,
                                                                              dtype=torch.float32),
            candidates=cand, assoc_labels=labels,
        )

    def association_targets(self, bound, xyz: np.ndarray, origin: np.ndarray,
                            event: np.ndarray, day: SyntheticPicks
                            ) -> tuple[AssociationCandidates, torch.Tensor]:
        sc = self.scale
        src = torch.as_tensor(xyz, dtype=torch.float64)
        tp, ts, dist = travel_times_within(bound, src, sc.max_distance_km)
        cand = association_candidates(
            torch.as_tensor(origin), tp, ts, dist, torch.as_tensor(day.pick_station),
            torch.as_tensor(day.pick_time), torch.as_tensor(day.pick_phase), sc,
            tolerance_s=2.0 * sc.kernel_s)
        same = torch.as_tensor(event)[cand.source] == torch.as_tensor(day.pick_event)[cand.pick]
        same &= torch.as_tensor(event)[cand.source] >= 0
        true_phase = torch.as_tensor(day.pick_true_phase)[cand.pick]
        labels = torch.stack([same & (true_phase == 0), same & (true_phase == 1)], -1).float()
        return cand, labels
