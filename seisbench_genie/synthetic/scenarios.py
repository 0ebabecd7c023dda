"""Synthetic days of picks: benchmark scenarios after Puente et al. (2025), sections 3.1-3.2
and 4.4, and the same kind of day on your own stations.

Three built-in station/velocity settings (:func:`make_scenario`, :data:`SCENARIOS`):

* ``crustal``: an 80-station subset of the southern-California (PhaseLink) station list spanning
  about 300 x 300 km, the Hadley & Kanamori (1977) layered model, depths 0-30 km, per-event cutoff
  distance 70-150 km;
* ``subduction``: the 20 IPOC CX stations with the Graeber & Asch (1999) model, depths 0-250 km,
  per-event cutoff 160-500 km;
* ``crustal-ridgecrest`` (a transfer test, not in the paper): GaMMA's 23 Ridgecrest stations
  with GaMMA's Ridgecrest velocity model, depths 0-20 km, cutoff 30-100 km.

:func:`make_custom_scenario` makes a day on any stations (a station table or an ObsPy
Inventory) with any 1-D layered velocity model, depth range and cutoff.

Every day holds ``n_events`` events uniform in the scenario region and in time, P and S arrivals
perturbed by uniform relative travel-time noise (default +-1 %), 20 % station dropout per event,
arrivals beyond the event's cutoff (hypocentral distance) removed, events kept only with at least
10 picks, and false picks (a fraction ``noise`` of the true picks) uniform over time, station and
phase. The further tests of section 4.4 are parameters: larger travel-time noise, out-of-network
events up to 200 km west of the network (depth 0-40 km) and random removal of picks.

These scenarios follow Puente et al.'s description; the exact station subset and the candidate
catalogue of the paper are not public, so the scenarios are "after", not replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie import traveltimes
from seisbench_genie.geo import great_circle_km
from seisbench_genie.stations import station_table

DAY_START_S = 1704067200.0  # 2024-01-01T00:00:00Z, POSIX seconds
KM_PER_DEG = 111.195
# The day generator gives up (ValueError: the cutoff is too short for the stations) when none of
# the first 2,000 drawn events, or fewer than 0.1 % of 20,000 or more, reached ``min_picks``.
_GIVE_UP_IF_NONE_AFTER = 2_000
_GIVE_UP_IF_FEW_AFTER = 20_000
_MIN_KEPT_FRACTION = 1e-3


def _data_csv(name: str) -> pd.DataFrame:
    with resources.files("seisbench_genie.data").joinpath(name).open("r") as f:
        return pd.read_csv(f)


def load_velocity_model(name: str) -> pd.DataFrame:
    """Load a shipped 1-D layered velocity model.

    Parameters
    ----------
    name
        ``"hadley_kanamori"`` (southern California, Hadley & Kanamori 1977) or ``"graeber_asch"``
        (northern Chile, Graeber & Asch 1999, node depths read as layer tops).

    Returns
    -------
    pandas.DataFrame
        Layer tops with columns ``depth_km``, ``vp``, ``vs`` (km, km/s).

    Examples
    --------
    >>> load_velocity_model("hadley_kanamori")["vp"].tolist()
    [5.5, 6.3, 6.7, 7.8]
    """
    if name == "hadley_kanamori":
        df = _data_csv("hadley_kanamori_1977_socal_layers.csv")
        return pd.DataFrame({"depth_km": df["depth_top_km"], "vp": df["vp_km_s"],
                             "vs": df["vs_km_s"]})
    if name == "graeber_asch":
        df = _data_csv("graeber_asch_1999_northern_chile.csv")
        return pd.DataFrame({"depth_km": df["depth"], "vp": df["vp"], "vs": df["vs"]})
    if name == "gamma_ridgecrest":
        # GaMMA's Ridgecrest model interpolates linearly between nodes: sampled here as 1 km
        # constant-velocity layers (velocity at each layer's mid-depth) down to the last node.
        df = _data_csv("gamma_ridgecrest_eikonal_nodes.csv")
        z = df["depth_km"].to_numpy(float)
        tops = np.r_[np.arange(0.0, z[-1], 1.0), z[-1]]
        mid = np.r_[tops[:-1] + 0.5, z[-1]]
        return pd.DataFrame({"depth_km": tops, "vp": np.interp(mid, z, df["vp_km_s"]),
                             "vs": np.interp(mid, z, df["vs_km_s"])})
    raise ValueError(f"name: unknown velocity model {name!r}; use 'hadley_kanamori', "
                     "'graeber_asch' or 'gamma_ridgecrest'")


def _farthest_point_subset(xy_km: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` points chosen by farthest-point sampling, starting at the centre."""
    centre = xy_km.mean(axis=0)
    chosen = [int(np.argmin(((xy_km - centre) ** 2).sum(axis=1)))]
    dist = ((xy_km - xy_km[chosen[0]]) ** 2).sum(axis=1)
    for _ in range(n - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, ((xy_km - xy_km[nxt]) ** 2).sum(axis=1))
    return np.sort(np.array(chosen))


def crustal_stations(n_stations: int = 80, half_width_km: float = 150.0) -> pd.DataFrame:
    """The crustal scenario's stations: a subset of the southern-California station list.

    Stations within ``half_width_km`` of (34.1 N, 117.4 W) are thinned by farthest-point
    sampling to ``n_stations`` evenly spread sites (deterministic). Elevations are 0 m (the
    source list has none).

    Examples
    --------
    >>> len(crustal_stations())
    80
    """
    df = _data_csv("socal_stations_phaselink.csv").drop_duplicates("id", keep="last")
    lat0, lon0 = 34.1, -117.4
    x = (df["longitude"] - lon0) * KM_PER_DEG * np.cos(np.radians(lat0))
    y = (df["latitude"] - lat0) * KM_PER_DEG
    inside = (x.abs() <= half_width_km) & (y.abs() <= half_width_km)
    df = df[inside.to_numpy()].reset_index(drop=True)
    xy = np.column_stack([x[inside].to_numpy(), y[inside].to_numpy()])
    keep = _farthest_point_subset(xy, min(n_stations, len(df)))
    out = df.iloc[keep]
    return station_table(pd.DataFrame({
        "id": out["id"].astype(str) + ".", "latitude": out["latitude"],
        "longitude": out["longitude"], "elevation": 0.0,
    }))


def subduction_stations() -> pd.DataFrame:
    """The subduction scenario's stations: the 20 IPOC CX stations (elevation in m).

    Examples
    --------
    >>> subduction_stations()["id"].iloc[0]
    'CX.PB01.'
    """
    df = _data_csv("ipoc_cx_stations.csv")
    return station_table(df.rename(columns={"elevation_m": "elevation"}))


def ridgecrest_stations() -> pd.DataFrame:
    """The 23 stations of GaMMA's Ridgecrest example (elevation in m).

    Examples
    --------
    >>> len(ridgecrest_stations())
    23
    """
    df = _data_csv("ridgecrest_stations_gamma.csv")
    return station_table(pd.DataFrame({
        "id": df["id"] + ".", "latitude": df["latitude"], "longitude": df["longitude"],
        "elevation": df["elevation_m"]}))


STATION_SETS = {"crustal": crustal_stations, "subduction": subduction_stations,
                "crustal-ridgecrest": ridgecrest_stations}


@dataclass(frozen=True)
class ScenarioSpec:
    """Geometry and event model of one scenario family.

    Attributes
    ----------
    name : str
    velocity_model : str
        Name for :func:`load_velocity_model`.
    depth_km : tuple of float
        Event depth range (km).
    cutoff_km : tuple of float
        Range of the per-event cutoff (hypocentral distance, km) beyond which arrivals are removed.
    margin_deg : float
        Margin added around the stations' extent to form the event region (degrees).
    """

    name: str
    velocity_model: str
    depth_km: tuple[float, float]
    cutoff_km: tuple[float, float]
    margin_deg: float

    def stations(self) -> pd.DataFrame:
        return STATION_SETS[self.name]()


SCENARIOS: dict[str, ScenarioSpec] = {
    "crustal": ScenarioSpec("crustal", "hadley_kanamori", (0.0, 30.0), (70.0, 150.0), 0.0),
    "subduction": ScenarioSpec("subduction", "graeber_asch", (0.0, 250.0), (160.0, 500.0), 0.3),
    # A network no model was trained on: GaMMA's Ridgecrest stations (~80 km aperture) and
    # its gradient velocity model; events 0-20 km deep, cutoff 30-100 km.
    "crustal-ridgecrest": ScenarioSpec("crustal-ridgecrest", "gamma_ridgecrest", (0.0, 20.0),
                                       (30.0, 100.0), 0.1),
}


@dataclass
class Scenario:
    """One synthetic day of picks with its ground truth.

    Attributes
    ----------
    name : str
        E.g. ``"subduction_500_1.0"``.
    picks : pandas.DataFrame
        ``station`` (id), ``phase`` ("P"/"S"), ``time`` (POSIX s), ``event`` (int, -1 for a false
        pick), sorted by time, RangeIndex (= ``pick_idx`` in assignments).
    events : pandas.DataFrame
        ``event``, ``time`` (POSIX s), ``latitude``, ``longitude``, ``depth_km``, ``in_network``,
        ``n_picks``.
    stations : pandas.DataFrame
        Station table (id, latitude, longitude, elevation m).
    velocity_model : pandas.DataFrame
        Layer tops ``depth_km``, ``vp``, ``vs``.
    region : dict
        Search volume: ``latitude``, ``longitude`` (degrees) and ``depth_km`` (min, max).
    params : dict
        The generator's parameters.
    """

    name: str
    picks: pd.DataFrame
    events: pd.DataFrame
    stations: pd.DataFrame
    velocity_model: pd.DataFrame
    region: dict
    params: dict = field(default_factory=dict)

    def to_picklist(self):
        """The picks as a SeisBench :class:`~seisbench.util.PickList` (same order as ``picks``).

        Examples
        --------
        >>> scn = make_scenario("subduction", n_events=20, noise=0.3, seed=1)
        >>> len(scn.to_picklist()) == len(scn.picks)
        True
        """
        from obspy import UTCDateTime
        from seisbench.util import Pick, PickList

        return PickList([
            Pick(trace_id=s, start_time=UTCDateTime(t), peak_time=UTCDateTime(t),
                 end_time=UTCDateTime(t), peak_value=1.0, phase=p)
            for s, p, t in zip(self.picks["station"], self.picks["phase"], self.picks["time"],
                               strict=True)
        ])


def _hypocentral_km(sources: np.ndarray, stations: pd.DataFrame) -> np.ndarray:
    epi = great_circle_km(sources[:, 0][:, None], sources[:, 1][:, None],
                          stations["latitude"].to_numpy()[None, :],
                          stations["longitude"].to_numpy()[None, :])
    dz = sources[:, 2][:, None] + stations["elevation"].to_numpy()[None, :] / 1000.0
    return np.hypot(epi, dz)


def make_scenario(
    scenario: str = "subduction",
    n_events: int = 500,
    noise: float = 1.0,
    tt_noise: tuple[float, float] = (0.0, 0.01),
    out_of_network: int = 0,
    pick_removal: float = 0.0,
    station_dropout: float = 0.2,
    min_picks: int = 10,
    duration_s: float = 86400.0,
    seed: int = 0,
    backend: traveltimes.TravelTimeBackend | None = None,
) -> Scenario:
    """Generate one synthetic benchmark day on a built-in station set.

    For your own stations and velocity model, see :func:`make_custom_scenario`.

    Parameters
    ----------
    scenario
        ``"crustal"``, ``"subduction"`` or ``"crustal-ridgecrest"`` (see :data:`SCENARIOS`).
    n_events
        In-network events in the day (100 / 500 / 2000 in the paper).
    noise
        False picks as a fraction of the true picks (0.3 / 1.0 / 3.0).
    tt_noise
        Range (lo, hi) of the relative travel-time error: each arrival is shifted by
        ``s * u * T`` with ``u ~ U(lo, hi)``, a random sign ``s`` and travel time ``T``.
        ``(0, 0.01)`` is the paper's +-1 %; the further tests use (0.01, 0.05), (0.05, 0.10) and
        (0.10, 0.15).
    out_of_network
        Extra events up to 200 km west of the network at 0-40 km depth (150 / 300 / 450).
    pick_removal
        Fraction of each event's picks removed at random after generation (0.2 / 0.4 / 0.6).
    station_dropout
        Fraction of stations removed per event.
    min_picks
        Events with fewer picks (before ``pick_removal``) are redrawn.
    duration_s
        Length of the day (s); origin times start at 2024-01-01T00:00:00Z.
    seed
        Seed of the random generator; equal arguments give identical output.
    backend
        Travel-time backend; default: the ``layered`` backend with the scenario's model.

    Returns
    -------
    Scenario

    Raises
    ------
    ValueError
        For an unknown scenario or a parameter out of range; the message names the argument.

    Examples
    --------
    >>> scn = make_scenario("subduction", n_events=100, noise=0.3, seed=0)
    >>> scn.events["n_picks"].min() >= 10
    True
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario: unknown {scenario!r}; choose from {sorted(SCENARIOS)}")
    _check_day_arguments(n_events, noise, tt_noise, out_of_network, pick_removal,
                         station_dropout)
    spec = SCENARIOS[scenario]
    return _make_day(scenario, spec.stations(), load_velocity_model(spec.velocity_model),
                     spec.depth_km, spec.cutoff_km, spec.margin_deg, n_events=n_events,
                     noise=noise, tt_noise=tt_noise, out_of_network=out_of_network,
                     pick_removal=pick_removal, station_dropout=station_dropout,
                     min_picks=min_picks, duration_s=duration_s, seed=seed, backend=backend)


def make_custom_scenario(
    stations: Any,
    velocity_model: pd.DataFrame | Mapping[str, Any],
    *,
    depth_km: tuple[float, float] = (0.0, 30.0),
    cutoff_km: tuple[float, float] = (70.0, 150.0),
    margin_deg: float = 0.0,
    name: str = "custom",
    n_events: int = 500,
    noise: float = 1.0,
    tt_noise: tuple[float, float] = (0.0, 0.01),
    out_of_network: int = 0,
    pick_removal: float = 0.0,
    station_dropout: float = 0.2,
    min_picks: int = 10,
    duration_s: float = 86400.0,
    seed: int = 0,
    backend: traveltimes.TravelTimeBackend | None = None,
) -> Scenario:
    """Generate a synthetic day of picks on your own stations with your own 1-D model.

    The day follows the same rules as :func:`make_scenario` (events uniform in the stations'
    extent plus ``margin_deg`` and in ``depth_km``, a per-event cutoff distance, station
    dropout, relative travel-time noise, false picks), with the geometry and velocity model
    taken from the arguments. Given exactly a built-in scenario's stations, model and geometry
    (see :data:`SCENARIOS`), it returns the same day as :func:`make_scenario` for the same
    seed.

    Parameters
    ----------
    stations
        An ObsPy :class:`~obspy.core.inventory.Inventory` or a DataFrame with ``id``
        (``"NET.STA.LOC"``), ``latitude``, ``longitude`` (degrees) and optionally
        ``elevation`` (m), as read by :func:`seisbench_genie.stations.station_table`. From an
        Inventory, each location code of a station is one station; the empty-location alias
        that ``station_table`` adds for matching pick ids is left out when a station has a
        location code.
    velocity_model
        1-D layered model: layer tops ``depth_km`` (km below sea level), ``vp`` and ``vs``
        (km/s), as a DataFrame or a dict of columns.
    depth_km
        Event depth range (min, max) in km, ``0 <= min <= max``.
    cutoff_km
        Range of the per-event cutoff (hypocentral distance, km) beyond which an event's
        arrivals are not picked; it should exceed the station spacing so that events reach
        ``min_picks`` picks. The default is the crustal scenario's (70, 150).
    margin_deg
        Margin (degrees) added around the stations' latitude/longitude extent to form the event
        region (``Scenario.region``).
    name
        Prefix of ``Scenario.name`` (``"<name>_<n_events>_<noise>"``).
    n_events, noise, tt_noise, out_of_network, pick_removal, station_dropout, min_picks, \
duration_s, seed
        As in :func:`make_scenario`.
    backend
        Travel-time backend; default: the ``layered`` eikonal backend built from
        ``velocity_model`` (cached in ``$SEISBENCH_GENIE_CACHE/traveltimes``).

    Returns
    -------
    Scenario
        The day, with ``stations`` and ``velocity_model`` in the canonical column layout.

    Raises
    ------
    ValueError
        When there are no stations, fewer than ``min_picks / 2`` of them, a velocity-model
        column is missing or invalid, a range is not ordered, or no event can reach
        ``min_picks`` picks within ``cutoff_km``; the message names the argument.

    Examples
    --------
    A 4 x 4 grid of stations 20 km apart and a two-layer crust, one hour with 10 events:

    >>> import numpy as np
    >>> import pandas as pd
    >>> lat, lon = np.meshgrid(38.0 + np.arange(4) * 0.18, 22.0 + np.arange(4) * 0.23)
    >>> stations = pd.DataFrame({"id": [f"XX.S{i:02d}." for i in range(16)],
    ...                          "latitude": lat.ravel(), "longitude": lon.ravel(),
    ...                          "elevation": 200.0})
    >>> model = pd.DataFrame({"depth_km": [0.0, 20.0], "vp": [6.0, 6.8], "vs": [3.5, 3.9]})
    >>> scn = make_custom_scenario(stations, model, depth_km=(0, 20), cutoff_km=(40, 80),
    ...                            n_events=10, noise=0.3, duration_s=3600.0, seed=1)
    >>> scn.name, len(scn.events), bool(scn.events["n_picks"].min() >= 10)
    ('custom_10_0.3', 10, True)
    """
    table = station_table(stations, argument="stations")
    if hasattr(stations, "networks") and len(table):
        # drop the "NET.STA." alias where the station also has a located id
        base = table["id"].str.rsplit(".", n=1).str[0]
        alias = table["id"].str.endswith(".") & base.duplicated(keep=False)
        table = table[~alias].reset_index(drop=True)
    if len(table) == 0:
        raise ValueError("stations: no stations given")
    if 2 * len(table) < min_picks:
        raise ValueError(f"stations: {len(table)} station(s) give at most {2 * len(table)} "
                         f"picks per event, fewer than min_picks={min_picks}")
    try:
        if isinstance(velocity_model, Mapping):
            velocity_model = pd.DataFrame(dict(velocity_model))
        model = traveltimes.validate_velocity_model(velocity_model)
    except ValueError as err:
        raise ValueError(f"velocity_model: {str(err).removeprefix('velocity model: ')}") from None
    depth = _ordered_range("depth_km", depth_km, minimum=0.0)
    cutoff = _ordered_range("cutoff_km", cutoff_km, minimum=0.0, strict=True)
    if not np.isfinite(margin_deg) or margin_deg < 0:
        raise ValueError(f"margin_deg: must be >= 0, got {margin_deg}")
    if not name or not isinstance(name, str):
        raise ValueError(f"name: must be a non-empty string, got {name!r}")
    _check_day_arguments(n_events, noise, tt_noise, out_of_network, pick_removal,
                         station_dropout)
    return _make_day(name, table, model, depth, cutoff, float(margin_deg), n_events=n_events,
                     noise=noise, tt_noise=tt_noise, out_of_network=out_of_network,
                     pick_removal=pick_removal, station_dropout=station_dropout,
                     min_picks=min_picks, duration_s=duration_s, seed=seed, backend=backend)


def _ordered_range(argument: str, value: Any, minimum: float,
                   strict: bool = False) -> tuple[float, float]:
    """``value`` as floats (lo, hi) with ``minimum <= lo <= hi`` (``minimum < lo`` if strict)."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{argument}: expected a pair (min, max), got {value!r}") from None
    ok = np.isfinite(lo) and np.isfinite(hi) and lo <= hi
    ok = ok and (lo > minimum if strict else lo >= minimum)
    if not ok:
        raise ValueError(f"{argument}: need {minimum:g} {'<' if strict else '<='} min <= max, "
                         f"got {value!r}")
    return lo, hi


def _check_day_arguments(n_events: int, noise: float, tt_noise: tuple[float, float],
                         out_of_network: int, pick_removal: float,
                         station_dropout: float) -> None:
    if n_events < 0 or out_of_network < 0:
        raise ValueError("n_events and out_of_network must be >= 0")
    if noise < 0:
        raise ValueError(f"noise: must be >= 0, got {noise}")
    if not 0 <= pick_removal < 1 or not 0 <= station_dropout < 1:
        raise ValueError("pick_removal and station_dropout must be in [0, 1)")
    lo, hi = tt_noise
    if not 0 <= lo <= hi:
        raise ValueError(f"tt_noise: need 0 <= lo <= hi, got {tt_noise}")


def _make_day(
    name: str,
    stations: pd.DataFrame,
    model: pd.DataFrame,
    depth_km: tuple[float, float],
    cutoff_km: tuple[float, float],
    margin_deg: float,
    *,
    n_events: int,
    noise: float,
    tt_noise: tuple[float, float],
    out_of_network: int,
    pick_removal: float,
    station_dropout: float,
    min_picks: int,
    duration_s: float,
    seed: int,
    backend: traveltimes.TravelTimeBackend | None,
) -> Scenario:
    """The day generator behind :func:`make_scenario` and :func:`make_custom_scenario`.

    The order of the random draws fixes the output for a seed: the benchmark's scenario days
    depend on it, so it must not change.
    """
    lo, hi = tt_noise
    rng = np.random.default_rng(seed)
    lat_rng = (stations["latitude"].min() - margin_deg,
               stations["latitude"].max() + margin_deg)
    lon_rng = (stations["longitude"].min() - margin_deg,
               stations["longitude"].max() + margin_deg)
    region = {"latitude": lat_rng, "longitude": lon_rng, "depth_km": depth_km}
    if backend is None:
        span_km = KM_PER_DEG * np.hypot(lat_rng[1] - lat_rng[0], lon_rng[1] - lon_rng[0])
        backend = traveltimes.get("layered", model=model,
                                  max_distance_km=float(np.ceil(span_km + 250.0)),
                                  max_depth_km=float(max(depth_km[1], 40.0) + 10.0))

    def draw(n: int, out: bool) -> np.ndarray:
        if out:  # up to 200 km west of the westernmost station, 0-40 km deep
            lon_w = stations["longitude"].min()
            lat = rng.uniform(*lat_rng, n)
            dx_km = rng.uniform(0.0, 200.0, n)
            lon = lon_w - dx_km / (KM_PER_DEG * np.cos(np.radians(lat)))
            return np.column_stack([lat, lon, rng.uniform(0.0, 40.0, n)])
        return np.column_stack([rng.uniform(*lat_rng, n), rng.uniform(*lon_rng, n),
                                rng.uniform(*depth_km, n)])

    def simulate(n_target: int, out: bool):
        """Draw candidates in batches until ``n_target`` events have >= min_picks picks."""
        kept_src, kept_obs = [], []
        have = drawn = 0
        while have < n_target:
            if ((drawn >= _GIVE_UP_IF_NONE_AFTER and have == 0)
                    or (drawn >= _GIVE_UP_IF_FEW_AFTER and have < _MIN_KEPT_FRACTION * drawn)):
                raise ValueError(
                    f"cutoff_km: only {have} of {drawn} drawn events reached min_picks="
                    f"{min_picks} picks within a cutoff of {cutoff_km} km; the stations are "
                    "too sparse for this cutoff (raise cutoff_km or lower min_picks)")
            n = max(2 * (n_target - have), 16)
            drawn += n
            src = draw(n, out)
            cutoff = rng.uniform(*cutoff_km, n)[:, None]
            within = _hypocentral_km(src, stations) <= cutoff
            alive = rng.random(within.shape) >= station_dropout
            obs = {}
            for ph in ("P", "S"):
                tt = backend.times(src, stations, ph)
                mag = rng.uniform(lo, hi, tt.shape) * rng.choice([-1.0, 1.0], tt.shape)
                obs[ph] = (tt * (1.0 + mag), within & alive)
            n_picks = obs["P"][1].sum(1) + obs["S"][1].sum(1)
            ok = np.flatnonzero(n_picks >= min_picks)[: n_target - have]
            kept_src.append(src[ok])
            kept_obs.append({ph: (t[ok], m[ok]) for ph, (t, m) in obs.items()})
            have += len(ok)
        src = np.concatenate(kept_src) if kept_src else np.zeros((0, 3))
        obs = {ph: tuple(np.concatenate([o[ph][i] for o in kept_obs]) for i in range(2))
               for ph in ("P", "S")}
        return src, obs

    parts_src, parts_obs, in_net = [], [], []
    for n_target, out in ((n_events, False), (out_of_network, True)):
        if n_target:
            s, o = simulate(n_target, out)
            parts_src.append(s)
            parts_obs.append(o)
            in_net.append(np.full(len(s), not out))
    n_total = n_events + out_of_network
    src = np.concatenate(parts_src) if parts_src else np.zeros((0, 3))
    origin = DAY_START_S + rng.uniform(0.0, duration_s, n_total)
    events = pd.DataFrame({
        "event": np.arange(n_total), "time": origin, "latitude": src[:, 0],
        "longitude": src[:, 1], "depth_km": src[:, 2],
        "in_network": np.concatenate(in_net) if in_net else np.zeros(0, bool),
    })
    pick_frames = []
    offset = 0
    for o in parts_obs:
        for ph in ("P", "S"):
            tt, mask = o[ph]
            ev, st = np.nonzero(mask)
            pick_frames.append(pd.DataFrame({
                "station": stations["id"].to_numpy()[st], "phase": ph,
                "time": origin[ev + offset] + tt[ev, st], "event": ev + offset,
            }))
        offset += len(o["P"][0])
    true_picks = (pd.concat(pick_frames, ignore_index=True) if pick_frames else
                  pd.DataFrame({"station": [], "phase": [], "time": [], "event": []}))
    if pick_removal > 0 and len(true_picks):
        true_picks = true_picks[rng.random(len(true_picks)) >= pick_removal]
    n_false = int(round(noise * len(true_picks)))
    false_picks = pd.DataFrame({
        "station": stations["id"].to_numpy()[rng.integers(0, len(stations), n_false)],
        "phase": np.where(rng.random(n_false) < 0.5, "P", "S"),
        "time": DAY_START_S + rng.uniform(0.0, duration_s, n_false),
        "event": -1,
    })
    picks = pd.concat([true_picks, false_picks], ignore_index=True)
    picks = picks.sort_values("time", kind="stable").reset_index(drop=True)
    picks["event"] = picks["event"].astype(int)
    counts = picks.loc[picks["event"] >= 0, "event"].value_counts()
    events["n_picks"] = events["event"].map(counts).fillna(0).astype(int)
    params = dict(scenario=name, n_events=n_events, noise=noise, tt_noise=tuple(tt_noise),
                  out_of_network=out_of_network, pick_removal=pick_removal,
                  station_dropout=station_dropout, min_picks=min_picks,
                  duration_s=duration_s, seed=seed)
    label = f"{name}_{n_events}_{noise:.1f}"
    if tuple(tt_noise) != (0.0, 0.01):
        label += f"_tt{lo:g}-{hi:g}"
    if out_of_network:
        label += f"_oon{out_of_network}"
    if pick_removal:
        label += f"_rm{pick_removal:g}"
    return Scenario(name=label, picks=picks, events=events, stations=stations,
                    velocity_model=model, region=region, params=params)
