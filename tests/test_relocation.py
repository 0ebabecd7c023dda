"""Double-difference relocation (seisbench_genie.relocation): GraphDD and the lsqr baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from obspy import read_events
from obspy.core.event import Catalog

from seisbench_genie.cli import main
from seisbench_genie.relocation import METHOD_IDS, NOT_RELOCATED, GraphDD, read_dtcc
from seisbench_genie.relocation.synthetic import make_cluster, origins_xyz, relative_errors
from seisbench_genie.traveltimes import get

torch.set_num_threads(1)

#: A small GraphDD run: enough training to show the method works, fast on one core.
FAST_GRAPHDD = dict(iterations=4, warmup_steps=150, steps_per_iteration=40, progress=False)
FAST_LSQR = dict(method="lsqr", iterations=4, progress=False)


@pytest.fixture(scope="module")
def cluster():
    """30 events on a 5 km fault, homogeneous truth, relocation 2 % too fast."""
    return make_cluster(30, truth="homogeneous", seed=0)


@pytest.fixture(scope="module")
def graphdd_run(cluster):
    graphdd = GraphDD(seed=3, **FAST_GRAPHDD)
    out = graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model)
    return graphdd, out


def _errors(cluster, catalog):
    return relative_errors(cluster.true_xyz_km, origins_xyz(catalog, cluster.projection))


def test_lsqr_reduces_interevent_error(cluster):
    before = relative_errors(cluster.true_xyz_km, cluster.catalog_xyz_km)
    graphdd = GraphDD(**FAST_LSQR)
    out = graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model)
    after = _errors(cluster, out)
    assert graphdd.last_run.relocated.all()
    assert after["interevent_km"] < 0.25 * before["interevent_km"]
    # The mean-shift anchor keeps the cluster's centroid near the catalog's.
    assert abs(after["shift_km"] - before["shift_km"]) < 0.5


def test_graphdd_reduces_interevent_error(cluster, graphdd_run):
    graphdd, out = graphdd_run
    before = relative_errors(cluster.true_xyz_km, cluster.catalog_xyz_km)
    after = _errors(cluster, out)
    assert after["interevent_km"] < 0.3 * before["interevent_km"]
    history = graphdd.last_run.history
    assert sum(history[-1].values()) < 0.2 * sum(history[0].values())


def test_graphdd_is_deterministic(cluster, graphdd_run):
    first, _ = graphdd_run
    again = GraphDD(seed=3, **FAST_GRAPHDD)
    again.relocate(cluster.catalog, cluster.stations, cluster.velocity_model)
    np.testing.assert_array_equal(first.last_run.xyz_after_km, again.last_run.xyz_after_km)
    np.testing.assert_array_equal(first.last_run.origin_shift_s, again.last_run.origin_shift_s)


def test_graphdd_trains_on_subgraphs(cluster):
    before = relative_errors(cluster.true_xyz_km, cluster.catalog_xyz_km)
    graphdd = GraphDD(batch_events=8, **dict(FAST_GRAPHDD, iterations=3))
    out = graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model)
    assert _errors(cluster, out)["interevent_km"] < 0.4 * before["interevent_km"]


def test_output_catalog_structure(cluster, graphdd_run, tmp_path):
    _, out = graphdd_run
    assert out is not cluster.catalog and len(out) == len(cluster.catalog)
    for event_in, event in zip(cluster.catalog, out, strict=True):
        assert len(event_in.origins) == 1  # the input is not modified
        assert len(event.origins) == 2
        first, new = event.origins
        assert event.preferred_origin() is new
        assert str(new.method_id) == METHOD_IDS["graphdd"]
        assert (first.latitude, first.depth) == (event_in.origins[0].latitude,
                                                 event_in.origins[0].depth)
        assert len(new.arrivals) == len(first.arrivals)
        picks = {str(p.resource_id) for p in event.picks}
        assert {str(a.pick_id) for a in new.arrivals} <= picks
        assert all(a.time_residual is not None for a in new.arrivals)
        assert new.comments and new.comments[0].text.startswith("GraphDD: relocated")
        assert new.quality.used_phase_count == len(new.arrivals)
    path = tmp_path / "relocated.xml"
    out.write(str(path), format="QUAKEML")
    back = read_events(str(path))
    assert str(back[0].preferred_origin().method_id) == METHOD_IDS["graphdd"]
    assert len(back[0].origins) == 2


def test_station_corrections_are_reported(cluster):
    graphdd = GraphDD(station_corrections=True, iterations=2, warmup_steps=30,
                      steps_per_iteration=10, progress=False)
    graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model, inplace=False)
    terms = graphdd.last_run.station_corrections
    assert list(terms.columns) == ["id", "p_term_s", "s_term_s"]
    assert set(terms["id"]) <= set(cluster.stations["id"])


def test_events_with_too_few_shared_stations_are_flagged(cluster):
    catalog = cluster.catalog.copy()
    lonely = catalog[0].origins[0]
    lonely.arrivals = lonely.arrivals[:3]  # three picks: at most three shared stations
    out = GraphDD(**FAST_LSQR).relocate(catalog, cluster.stations, cluster.velocity_model,
                                        inplace=True)
    assert out is catalog
    kept = out[0]
    assert len(kept.origins) == 1 and kept.preferred_origin() is kept.origins[0]
    assert kept.origins[0].comments[-1].text.startswith(NOT_RELOCATED)
    assert "shared stations" in kept.origins[0].comments[-1].text
    assert all(len(e.origins) == 2 for e in out[1:])


def test_catalog_without_picks_is_rejected(cluster):
    catalog = cluster.catalog.copy()
    for event in catalog:
        event.picks = []
        event.origins[0].arrivals = []
    with pytest.raises(ValueError, match="no P or S picks"):
        GraphDD(**FAST_LSQR).relocate(catalog, cluster.stations, cluster.velocity_model)
    with pytest.raises(ValueError, match="no events"):
        GraphDD(**FAST_LSQR).relocate(Catalog(), cluster.stations, cluster.velocity_model)


def test_velocity_model_must_cover_the_events(cluster):
    shallow = get("layered", model=cluster.velocity_model, max_distance_km=150.0,
                  max_depth_km=4.0, cache_dir=False)
    with pytest.raises(ValueError, match=r"LayeredTravelTimes.*covers depths 0-4 km.*event"):
        GraphDD(**FAST_LSQR).relocate(cluster.catalog, cluster.stations, shallow)
    with pytest.raises(ValueError, match="velocity_model: none given"):
        GraphDD(**FAST_LSQR).relocate(cluster.catalog, cluster.stations)


def test_bad_parameters_name_the_argument():
    with pytest.raises(ValueError, match="method"):
        GraphDD(method="hypodd")
    with pytest.raises(ValueError, match="residual_scale_s"):
        GraphDD(residual_scale_s=-0.1)
    with pytest.raises(ValueError, match="min_shared_stations"):
        GraphDD(min_shared_stations=2.5)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            GraphDD(device="cuda")


def test_cross_correlation_times_are_used(cluster, tmp_path):
    # Exact differential times of the true hypocentres for the first five event pairs.
    backend = get("homogeneous", vp=float(cluster.velocity_model["vp"].iloc[0]) / 1.02,
                  vs=float(cluster.velocity_model["vs"].iloc[0]) / 1.02)
    tt = backend.bind(cluster.stations, projection=cluster.projection)
    times = tt.times(torch.as_tensor(cluster.true_xyz_km), "P").numpy()
    code = cluster.stations["id"].str.split(".").str[1]
    lines = []
    for i in range(5):
        lines.append(f"# {i} {i + 1} 0.0")
        lines += [f"{code[s]} {times[i, s] - times[i + 1, s]:.4f} 1.0 P" for s in range(8)]
    lines += ["# 0 999 0.0", f"{code[0]} 0.1 1.0 P"]  # an unknown event: dropped
    path = tmp_path / "dt.cc"
    path.write_text("\n".join(lines) + "\n")
    table = read_dtcc(path)
    assert len(table) == 41 and table["dt_s"].dtype == float
    graphdd = GraphDD(**FAST_LSQR)
    with pytest.warns(UserWarning, match="1 of 41 row"):
        graphdd.relocate(cluster.catalog, cluster.stations, cluster.velocity_model,
                         differential_times=path)
    assert graphdd.last_run.n_cross_correlation == 40
    bad = tmp_path / "bad.cc"
    bad.write_text("ABC 0.1 1.0 P\n")
    with pytest.raises(ValueError, match="before the first"):
        read_dtcc(bad)


def test_cli_relocate(cluster, tmp_path, capsys):
    catalog_path = tmp_path / "catalog.xml"
    cluster.catalog.write(str(catalog_path), format="QUAKEML")
    stations = tmp_path / "stations.csv"
    cluster.stations.to_csv(stations, index=False)
    model = tmp_path / "vm.csv"
    pd.DataFrame(cluster.velocity_model).to_csv(model, index=False)
    out = tmp_path / "out" / "relocated.xml"
    args = ["relocate", str(catalog_path), "--stations", str(stations), "--velocity-model",
            str(model), "--out", str(out), "--method", "lsqr", "--iterations", "3",
            "--no-progress"]
    assert main(args) == 0
    assert "30 of 30 event(s) relocated" in capsys.readouterr().out
    back = read_events(str(out))
    assert all(str(e.preferred_origin().method_id) == METHOD_IDS["lsqr"] for e in back)
    missing = list(args)
    missing[1] = str(tmp_path / "nope.xml")
    assert main(missing) == 2
    assert "does not exist" in capsys.readouterr().err
