"""Where an association runs: frame, region and backend (``seisbench_genie.frame``), and a
3-D travel-time model through ``GENIE.classify``."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seisbench_genie import GENIE
from seisbench_genie.frame import EDGE_SPACINGS, search_frame
from seisbench_genie.geo import LocalProjection, epicentral_distance_km
from seisbench_genie.synthetic.scenarios import load_velocity_model
from seisbench_genie.traveltimes import get
from seisbench_genie.traveltimes.grid3d import Grid3DTravelTimes

PRETRAINED = Path(__file__).parents[1] / "pretrained"
#: The 3-D grid's frame is centred 10-15 km away from the stations' centre.
GRID_ORIGIN = (35.6, -117.35)
STATION_CENTRE = (35.5, -117.5)


@pytest.fixture(scope="module")
def model():
    return GENIE.load(PRETRAINED / "crustal", version_str="2")


@pytest.fixture(scope="module")
def layers():
    return load_velocity_model("hadley_kanamori")


@pytest.fixture(scope="module")
def stations():
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-35.0, 35.0, (2, 14))
    lat, lon = LocalProjection(*STATION_CENTRE).to_geographic(x, y)
    return pd.DataFrame({"id": [f"XX.S{i:02d}." for i in range(14)], "latitude": lat,
                         "longitude": lon, "elevation": rng.uniform(0.0, 800.0, 14)})


@pytest.fixture(scope="module")
def grid3d(layers, tmp_path_factory):
    """The 1-D model on a 3-D grid (160 x 160 x 30 km) in a frame of its own."""
    x = np.arange(-80.0, 80.0 + 1e-9, 4.0)
    z = np.arange(0.0, 30.0 + 1e-9, 2.0)
    layer = np.searchsorted(layers["depth_km"].to_numpy(), z, side="right") - 1
    shape = (x.size, x.size, z.size)
    vp = np.broadcast_to(layers["vp"].to_numpy()[layer], shape).copy()
    vs = np.broadcast_to(layers["vs"].to_numpy()[layer], shape).copy()
    return Grid3DTravelTimes(vp, vs, x, x, z, *GRID_ORIGIN,
                             cache_dir=tmp_path_factory.mktemp("grid3d"))


@pytest.fixture(scope="module")
def day(layers, stations):
    """Eight events under the stations, one a minute, with P and S picks at every station
    (travel times of the 1-D model, 0.05 s noise) and 40 false picks."""
    rng = np.random.default_rng(7)
    n = 8
    x, y = rng.uniform(-25.0, 25.0, (2, n))
    lat, lon = LocalProjection(*STATION_CENTRE).to_geographic(x, y)
    depth = rng.uniform(3.0, 20.0, n)
    origin = 1.7e9 + 60.0 * np.arange(n) + rng.uniform(0.0, 10.0, n)
    table = get("layered", model=layers, max_distance_km=200.0, max_depth_km=45.0)
    source = np.column_stack([lat, lon, depth])
    rows = []
    for phase in ("P", "S"):
        t = table.times(source, stations, phase)  # (events, stations)
        rows.append(pd.DataFrame({
            "station": np.tile(stations["id"].to_numpy(), n), "phase": phase,
            "time": (origin[:, None] + t).ravel() + rng.normal(0.0, 0.05, t.size),
            "event": np.repeat(np.arange(n), len(stations))}))
    false = pd.DataFrame({"station": rng.choice(stations["id"], 40),
                          "phase": rng.choice(["P", "S"], 40),
                          "time": rng.uniform(origin[0] - 30, origin[-1] + 60, 40), "event": -1})
    picks = pd.concat(rows + [false], ignore_index=True).sort_values("time")
    events = pd.DataFrame({"latitude": lat, "longitude": lon, "depth_km": depth,
                           "time": origin})
    return picks.reset_index(drop=True), events


def test_a_3d_model_runs_through_classify_in_its_own_frame(model, grid3d, stations, day, layers):
    picks, truth = day
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.classify(picks[["station", "phase", "time"]], stations,
                             velocity_model=grid3d)
        plain = model.classify(picks[["station", "phase", "time"]], stations,
                               velocity_model=layers)
    assert len(out.events) == len(truth) == len(plain.events)
    order = np.argsort(out.events["time"].to_numpy())
    found = out.events.iloc[order]
    assert np.abs(found["time"].to_numpy() - truth["time"].to_numpy()).max() < 1.0
    error = epicentral_distance_km(found["latitude"], found["longitude"], truth["latitude"],
                                   truth["longitude"])
    assert np.median(error) < 3.0, error
    # every true pick of an event goes to the event found for it
    asg = out.assignments.merge(picks[["event"]], left_on="pick_idx", right_index=True)
    assert (asg["event"] >= 0).mean() > 0.97
    # the frame is the grid's, and the default region stays inside it
    frame = search_frame(stations, grid3d, None, model.scale)
    assert frame.projection == grid3d.projection
    assert frame.region.depth_km == (0.0, 30.0)  # the crustal model's 0-40 km, cut to the grid
    edge = EDGE_SPACINGS * model.scale.node_spacing_km
    (x0, x1), (y0, y1), _ = grid3d.extent_km()
    assert x0 + edge <= frame.region.x_km[0] and frame.region.x_km[1] <= x1 - edge
    assert y0 + edge <= frame.region.y_km[0] and frame.region.y_km[1] <= y1 - edge


def test_a_region_may_give_only_depth(model, grid3d, stations, layers):
    shallow = search_frame(stations, layers, {"depth_km": (0.0, 15.0)}, model.scale)
    full = search_frame(stations, layers, None, model.scale)
    assert shallow.region.depth_km == (0.0, 15.0)
    assert (shallow.region.x_km, shallow.region.y_km) == (full.region.x_km, full.region.y_km)
    assert shallow.backend.max_depth_km < full.backend.max_depth_km
    assert search_frame(stations, grid3d, {"depth_km": (2.0, 20.0)},
                        model.scale).region.depth_km == (2.0, 20.0)


def test_margin_km_widens_the_stations_box_and_bad_margins_are_named(model, stations, layers):
    default = search_frame(stations, layers, None, model.scale).region
    wide = search_frame(stations, layers, {"margin_km": 45.0, "depth_km": (0.0, 25.0)},
                        model.scale).region
    extra = 45.0 - model.scale.margin_km
    assert wide.x_km == pytest.approx((default.x_km[0] - extra, default.x_km[1] + extra))
    assert wide.y_km == pytest.approx((default.y_km[0] - extra, default.y_km[1] + extra))
    assert wide.depth_km == (0.0, 25.0)
    tight = search_frame(stations, layers, {"margin_km": 0}, model.scale).region
    assert tight.x_km[1] - tight.x_km[0] == pytest.approx(
        default.x_km[1] - default.x_km[0] - 2 * model.scale.margin_km)
    box = {"latitude": (35.2, 35.8), "longitude": (-117.8, -117.2)}
    for region, message in [({"margin_km": -5.0}, "margin_km must be finite and >= 0"),
                            ({"margin_km": float("nan")}, "margin_km must be finite"),
                            ({"margin_km": "wide"}, "margin_km must be a number"),
                            ({**box, "margin_km": 10.0}, "give it without latitude")]:
        with pytest.raises(ValueError, match=message):
            search_frame(stations, layers, region, model.scale)


def test_regions_outside_the_3d_grid_are_refused_by_name(model, grid3d, stations, day):
    picks, _ = day
    far = {"latitude": (33.0, 38.0), "longitude": (-120.0, -115.0)}
    with pytest.raises(ValueError, match="region: its x .* inside the travel-time grid"):
        model.classify(picks[["station", "phase", "time"]], stations, velocity_model=grid3d,
                       region=far)
    with pytest.raises(ValueError, match="region: depth_km .* outside the travel-time grid"):
        search_frame(stations, grid3d, {"depth_km": (0.0, 35.0)}, model.scale)
    with pytest.raises(ValueError, match="velocity_model"):
        search_frame(stations, None, None, model.scale)


def test_a_small_region_far_from_stations_gets_a_table_that_reaches_them(model, stations, day,
                                                                          layers):
    """A region much smaller than the station spread: the 1-D table is built to reach every
    station from it (a table sized by the region alone stopped the run with an error about
    its distance range)."""
    picks, _ = day
    lat, lon = STATION_CENTRE[0] + 0.3, STATION_CENTRE[1]  # 33 km north of the stations' centre
    region = {"latitude": (lat - 0.02, lat + 0.02), "longitude": (lon - 0.02, lon + 0.02)}
    frame = search_frame(stations, layers, region, model.scale)
    x, y = frame.projection.to_local(stations["latitude"], stations["longitude"])
    farthest = np.hypot(x - np.mean(frame.region.x_km), y - np.mean(frame.region.y_km)).max()
    diagonal = np.hypot(np.ptp(frame.region.x_km), np.ptp(frame.region.y_km))
    assert 1.3 * diagonal + 50.0 < farthest  # a table sized by the region would stop short
    assert frame.backend.max_distance_km > farthest
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.classify(picks[["station", "phase", "time"]], stations,
                             velocity_model=layers, region=region)
    bounds = frame.region.location_bounds(model.scale.node_spacing_km)
    x, y = frame.projection.to_local(out.events["latitude"], out.events["longitude"])
    assert ((x >= bounds[0][0] - 1e-6) & (x <= bounds[0][1] + 1e-6)).all()
