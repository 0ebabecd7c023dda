"""Tests of seisbench_genie.geo."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from seisbench_genie.geo import LocalProjection, azimuth_deg, epicentral_distance_km


def test_centre_maps_to_origin_and_axes_point_east_north():
    proj = LocalProjection(-21.0, -69.0)
    x, y = proj.to_local(-21.0, -69.0)
    assert abs(float(x)) < 1e-9 and abs(float(y)) < 1e-9
    x_e, y_e = proj.to_local(-21.0, -68.9)
    x_n, y_n = proj.to_local(-20.9, -69.0)
    assert x_e > 10.0 and abs(float(y_e)) < 0.1
    assert y_n > 10.0 and abs(float(x_n)) < 1e-6


def test_round_trip_is_vectorised_and_exact():
    proj = LocalProjection(35.0, -117.5)
    rng = np.random.default_rng(0)
    lat = 35.0 + rng.uniform(-3, 3, size=(4, 5))
    lon = -117.5 + rng.uniform(-3, 3, size=(4, 5))
    x, y = proj.to_local(lat, lon)
    assert x.shape == (4, 5) and y.dtype == np.float64
    lat2, lon2 = proj.to_geographic(x, y)
    np.testing.assert_allclose(lat2, lat, atol=1e-9)
    np.testing.assert_allclose(lon2, lon, atol=1e-9)
    # broadcasting a scalar against an array
    xb, _ = proj.to_local(35.0, np.array([-117.5, -117.0]))
    assert xb.shape == (2,)


def test_local_distances_match_geodesic_near_the_centre():
    proj = LocalProjection(10.0, 20.0)
    lat = np.array([10.5, 9.2, 10.0])
    lon = np.array([20.7, 19.1, 21.5])
    x, y = proj.to_local(lat, lon)
    flat = np.hypot(x, y)
    geodesic = epicentral_distance_km(10.0, 20.0, lat, lon)
    np.testing.assert_allclose(flat, geodesic, rtol=1e-3)


def test_centred_on_station_extent_and_antimeridian():
    df = pd.DataFrame({"latitude": [-22.0, -20.0, -21.5], "longitude": [-70.0, -68.0, -69.0]})
    proj = LocalProjection.centred_on(df)
    assert proj == LocalProjection(-21.0, -69.0)
    dateline = pd.DataFrame({"latitude": [51.0, 52.0], "longitude": [179.5, -179.5]})
    p = LocalProjection.centred_on(dateline)
    assert p.lat0 == 51.5 and abs(p.lon0) == 180.0
    x, _ = p.to_local([51.5, 51.5], [179.5, -179.5])
    assert x[0] < 0 < x[1] and abs(x[1] - x[0]) < 80.0
    with pytest.raises(ValueError, match="latitude"):
        LocalProjection.centred_on(pd.DataFrame({"lon": [0.0]}))


def test_projection_equality_pickle_and_validation():
    proj = LocalProjection(1.0, 361.0)
    assert proj.lon0 == 1.0
    assert proj == LocalProjection(1.0, 1.0) and hash(proj) == hash(LocalProjection(1.0, 1.0))
    assert proj != LocalProjection(1.0, 2.0)
    clone = pickle.loads(pickle.dumps(proj))
    assert clone == proj
    np.testing.assert_allclose(clone.to_local(2.0, 2.0), proj.to_local(2.0, 2.0))
    assert "+proj=tmerc" in proj.proj4 and "+units=km" in proj.proj4
    with pytest.raises(ValueError, match="lat0"):
        LocalProjection(95.0, 0.0)
    with pytest.raises(ValueError, match="latitude"):
        proj.to_local(91.0, 0.0)


def test_epicentral_distance_and_azimuth():
    assert epicentral_distance_km(0.0, 0.0, 0.0, 1.0) == pytest.approx(111.3195, abs=1e-3)
    assert epicentral_distance_km(0.0, 0.0, 1.0, 0.0) == pytest.approx(110.574, abs=1e-3)
    d = epicentral_distance_km(np.zeros(3), np.zeros(3), [0.0, 1.0, 0.0], [1.0, 0.0, 0.0])
    assert d.shape == (3,) and d[2] == 0.0
    az = azimuth_deg(0.0, 0.0, [1.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, -1.0])
    np.testing.assert_allclose(az, [0.0, 90.0, 180.0, 270.0], atol=1e-9)
    assert ((az >= 0) & (az < 360)).all()
