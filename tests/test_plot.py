"""The figures of seisbench_genie.plot: each renders to PNG from tiny synthetic inputs and shows
what it claims (associated picks on the predicted moveout, the left-out picks greyed, counts,
stage boundaries, magnitudes as sizes)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from obspy.core.event import Magnitude

from seisbench_genie import plot
from seisbench_genie.catalog import build_catalog
from seisbench_genie.traveltimes import get

T0 = 1704067200.0  # 2024-01-01T00:00:00Z
VP, VS = 6.0, 3.5


def _png(fig: Figure, tmp_path, name: str) -> bytes:
    path = plot.save_figure(fig, tmp_path / f"{name}.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5_000
    return data


@pytest.fixture()
def day():
    """Six stations on a line north of an event at 10 km depth; exact P and S picks of that
    event at five stations (one P off by +0.3 s), two picks of a second event and a false
    pick among the first event's arrivals, another 900 s later."""
    stations = pd.DataFrame({"id": [f"XX.S{i}." for i in range(6)],
                             "latitude": 34.0 + 0.15 * np.arange(6),
                             "longitude": np.full(6, -117.0), "elevation": np.zeros(6)})
    backend = get("homogeneous", vp=VP, vs=VS)
    src = [34.0, -117.0, 10.0]
    tp = backend.times(src, stations, "P")[0]
    ts = backend.times(src, stations, "S")[0]
    rows = [(stations["id"][i], "P", T0 + tp[i]) for i in range(5)]
    rows += [(stations["id"][i], "S", T0 + ts[i]) for i in range(5)]
    rows[2] = (rows[2][0], "P", rows[2][2] + 0.3)
    rows += [("XX.S4.", "P", T0 + tp[4] + 1.0),        # false pick near the moveout
             ("XX.S1.", "P", T0 + 21.0),               # picks of event 1
             ("XX.S2.", "P", T0 + 22.0),
             ("XX.S3.", "P", T0 + 900.0)]              # far in time: not in the section
    picks = pd.DataFrame(rows, columns=["station", "phase", "time"])
    events = pd.DataFrame({"event_idx": [0, 1], "time": [T0, T0 + 16.0],
                           "latitude": [34.0, 34.3], "longitude": [-117.0, -117.0],
                           "depth_km": [10.0, 8.0], "n_picks": [10, 2],
                           "n_stations": [5, 2], "score": [0.9, 0.6], "rms_s": [0.1, 0.2]})
    residual = np.zeros(10)
    residual[2] = 0.3
    assignments = pd.DataFrame({
        "pick_idx": list(range(10)) + [11, 12], "event_idx": [0] * 10 + [1, 1],
        "phase": ["P"] * 5 + ["S"] * 5 + ["P", "P"], "probability": 0.9,
        "residual_s": list(residual) + [0.0, 0.0]})
    return events, assignments, picks, stations


def _catalog(day, magnitudes=None):
    events, assignments, picks, stations = day
    table = picks.assign(pick_idx=np.arange(len(picks)))
    cat = build_catalog(events, assignments, table, stations)
    for event, mag in zip(cat, magnitudes or [], strict=False):
        event.magnitudes.append(Magnitude(mag=mag, magnitude_type="ML"))
        event.preferred_magnitude_id = event.magnitudes[0].resource_id
    return cat


def test_catalog_map_from_dataframe_sizes_events_by_magnitude(day, tmp_path):
    events, _, _, stations = day
    events = events.assign(magnitude=[1.0, 3.0])
    fig = plot.plot_catalog(events, stations)
    _png(fig, tmp_path, "map")
    ax_map, ax_ew, ax_ns = fig.axes[:3]
    sizes = ax_map.collections[0].get_sizes()
    assert sizes[0] == pytest.approx(sizes[1] * plot.AREA_PER_MAGNITUDE ** 2)
    assert ax_ew.get_ylim()[0] > ax_ew.get_ylim()[1]  # depth increases downwards
    labels = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert "M 1" in labels and "M 3" in labels and "6 stations" in labels
    assert "2 events, 2024-01-01 00:00:00 to 2024-01-01 00:00:16 UTC" in fig.get_suptitle()


def test_catalog_map_from_obspy_catalog_colours_by_depth(day, tmp_path):
    cat = _catalog(day, magnitudes=[2.0, 2.5])
    fig = plot.plot_catalog(cat, day[3], color_by="depth")
    _png(fig, tmp_path, "map_depth")
    colours = fig.axes[0].collections[0].get_array()
    assert sorted(np.asarray(colours).tolist()) == [8.0, 10.0]
    assert fig.axes[3].get_ylabel() == "depth (km)"
    with pytest.raises(ValueError, match="color_by"):
        plot.plot_catalog(cat, color_by="magnitude")


def test_catalog_map_with_cartopy_or_a_clear_error_without_it(day, tmp_path, monkeypatch):
    events, _, _, stations = day
    try:
        import cartopy  # noqa: F401
    except ImportError:
        pass
    else:  # coastlines need Natural Earth data (a download): not in a test
        _png(plot.plot_catalog(events, stations, cartopy=True, coastlines=False), tmp_path,
             "map_cartopy")
    monkeypatch.setitem(sys.modules, "cartopy", None)  # as if cartopy were not installed
    with pytest.raises(ImportError, match="pip install cartopy"):
        plot.plot_catalog(events, stations, cartopy=True)


def test_catalog_map_without_events_or_stations_still_renders(tmp_path):
    empty = pd.DataFrame({c: [] for c in ("time", "latitude", "longitude", "depth_km")})
    _png(plot.plot_catalog(empty), tmp_path, "empty")
    with pytest.raises(ValueError, match="missing column"):
        plot.plot_catalog(pd.DataFrame({"time": [T0]}))


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_record_section_puts_associated_picks_on_the_predicted_moveout(day, tmp_path):
    events, assignments, picks, stations = day
    backend = get("homogeneous", vp=VP, vs=VS)
    fig = plot.plot_record_section(events, assignments, picks, stations, event_idx=0,
                                   velocity_model=backend)
    _png(fig, tmp_path, "record")
    ax = fig.axes[0]
    labels = _labels(ax)
    assert "P associated (5)" in labels and "S associated (5)" in labels
    assert "unassociated picks (1)" in labels  # the false pick; the one 900 s later is out
    assert "picks of other events (2)" in labels
    # the moveout curve is the backend's: t = hypocentral distance / v at 10 km depth
    p_line = next(line for line in ax.get_lines() if line.get_label().startswith("predicted P"))
    d, t = p_line.get_data()
    assert t == pytest.approx(np.hypot(d, 10.0) / VP, abs=0.01)
    # the associated P picks lie on it, except the one off by its residual
    p_points = next(c for c in ax.collections if c.get_label() == "P associated (5)")
    xy = p_points.get_offsets()
    off = np.asarray(xy[:, 1]) - np.hypot(np.asarray(xy[:, 0]), 10.0) / VP
    assert np.sort(np.round(off, 2)).tolist() == [0.0, 0.0, 0.0, 0.0, 0.3]
    assert np.asarray(p_points.get_array()).max() == pytest.approx(0.3)  # coloured by residual


def test_record_section_from_a_catalog_and_a_layered_model(day, tmp_path, monkeypatch):
    monkeypatch.setenv("SEISBENCH_GENIE_CACHE", str(tmp_path / "cache"))
    events, assignments, picks, stations = day
    cat = _catalog(day)
    layers = pd.DataFrame({"depth_km": [0.0], "vp": [VP], "vs": [VS]})
    fig = plot.plot_record_section(cat, None, picks, stations, velocity_model=layers)
    _png(fig, tmp_path, "record_catalog")
    labels = _labels(fig.axes[0])
    assert "P associated (5)" in labels and "unassociated picks (1)" in labels
    assert "predicted S (layered)" in labels
    assert fig.axes[0].get_title().startswith("event 0: 2024-01-01 00:00:00 UTC")


def test_record_section_bad_input_names_the_problem(day):
    events, assignments, picks, stations = day
    with pytest.raises(ValueError, match="event_idx: 7"):
        plot.plot_record_section(events, assignments, picks, stations, event_idx=7)
    with pytest.raises(ValueError, match="stations"):
        plot.plot_record_section(events, assignments, picks)
    with pytest.raises(ValueError, match="assignments"):
        plot.plot_record_section(events, None, picks, stations)
    with pytest.raises(ValueError, match="not a Catalog with assignments"):
        plot.plot_record_section(_catalog(day), assignments, picks, stations)


def test_overview_counts_every_pick_and_event(day, tmp_path):
    events, assignments, picks, stations = day
    fig = plot.plot_association_overview(events, assignments, picks, stations, bin_s=60.0)
    _png(fig, tmp_path, "overview")
    ax_ev, ax_pk, ax_st = fig.axes
    heights = np.array([p.get_height() for p in ax_pk.patches])
    assert heights.sum() == len(picks)
    assert sum(p.get_height() for p in ax_ev.patches) == len(events)
    assert "2 events; 12 of 14 picks associated (86%) on 5 stations" in fig.get_suptitle()
    # stations ordered by latitude, the northernmost on top
    assert [t.get_text() for t in ax_st.get_yticklabels()][-1] == "XX.S4"
    with pytest.raises(ValueError, match="bin_s"):
        plot.plot_association_overview(events, assignments, picks, bin_s=0)


def test_overview_from_a_catalog_alone(day, tmp_path):
    fig = plot.plot_association_overview(_catalog(day))
    _png(fig, tmp_path, "overview_catalog")
    assert "12 of 12 picks associated" in fig.get_suptitle()


def test_training_curves_of_a_run_folder(tmp_path):
    rng = np.random.default_rng(0)
    n = 300
    steps = np.arange(1, n + 1)
    parts = {k: np.exp(-steps / 100.0) * s + rng.uniform(0, 0.05, n)
             for k, s in (("node", 0.7), ("query", 0.8), ("association", 0.3))}
    history = pd.DataFrame({"step": steps, "elapsed_s": 2.0 * steps,
                            "loss": sum(parts.values()), **parts})
    history.to_csv(tmp_path / "history.csv", index=False)
    (tmp_path / "config.json").write_text(json.dumps(
        {"name": "toy", "version": "2", "steps": 200, "stages": [{"steps": 100}]}))
    (tmp_path / "toy.json.v2").write_text(json.dumps({"validation": {"event_f1": 0.912}}))
    fig = plot.plot_training_curves(tmp_path, smooth_steps=20)
    _png(fig, tmp_path, "curves")
    assert fig.get_suptitle() == ("training toy v2: 300 steps in 10 min; validation event "
                                  "F1 0.912")
    stage_lines = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert [ln.get_xdata()[0] for ln in stage_lines] == [200]
    mean = next(ln for ln in fig.axes[0].get_lines() if ln.get_label() == "20-step mean")
    assert mean.get_ydata()[-1] < mean.get_ydata()[0]  # the loss falls
    with pytest.raises(ValueError, match="no history.csv"):
        plot.plot_training_curves(tmp_path / "missing")


def test_save_figure_refuses_unknown_formats_and_leaves_no_file(tmp_path):
    fig = plot.plot_catalog(pd.DataFrame({"time": [T0], "latitude": [0.0],
                                          "longitude": [0.0], "depth_km": [5.0]}))
    with pytest.raises(ValueError, match="cannot write"):
        plot.save_figure(fig, tmp_path / "map.xyz")
    assert list(tmp_path.iterdir()) == []
    assert plot.save_figure(fig, tmp_path / "map.pdf").read_bytes()[:4] == b"%PDF"


def test_demo_writes_the_catalog_tables_and_figures(day, tmp_path, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("SEISBENCH_GENIE_CACHE", str(tmp_path / "cache"))
    from seisbench_genie.demo import write_outputs

    events, assignments, picks, stations = day
    out = SimpleNamespace(events=events, assignments=assignments, catalog=_catalog(day))
    layers = pd.DataFrame({"depth_km": [0.0], "vp": [VP], "vs": [VS]})
    written = write_outputs(out, picks, stations, layers, tmp_path / "demo")
    assert sorted(p.name for p in written) == sorted(
        ["catalog.xml", "events.csv", "assignments.csv", "picks.csv", "stations.csv",
         "catalog_map.png", "record_section.png", "association_overview.png"])
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == sorted(
        p.name for p in written)  # no temporary file left
    from obspy import read_events

    assert len(read_events(str(tmp_path / "demo" / "catalog.xml"))) == 2
    table = pd.read_csv(tmp_path / "demo" / "events.csv")
    assert table["time_utc"].tolist() == ["2024-01-01T00:00:00.00Z", "2024-01-01T00:00:16.00Z"]
