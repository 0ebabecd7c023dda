"""Geographic helpers: a local kilometre frame and geodesic distances.

GENIE works in a local Cartesian frame: ``x`` (km, east), ``y`` (km, north) and depth (km,
positive down). :class:`LocalProjection` maps latitude/longitude to and from that frame with a
transverse Mercator projection on the WGS84 ellipsoid, centred on the study region, which
keeps the scale error below 0.1 % within about 450 km of the centre meridian.

Examples
--------
>>> proj = LocalProjection(-21.0, -69.0)
>>> x, y = proj.to_local(-21.0, -68.0)
>>> round(float(x), 1), round(float(y), 1)
(104.0, -0.3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyproj

__all__ = ["EARTH_RADIUS_KM", "LocalProjection", "azimuth_deg", "central_angle_rad",
           "epicentral_distance_km", "great_circle_km"]

_GEOD = pyproj.Geod(ellps="WGS84")
#: Radius (km) of the spherical Earth of the quick distances (:func:`great_circle_km`): the
#: mean radius, as in the benchmark scenarios, the scores and the Catalog's distances.
EARTH_RADIUS_KM = 6371.0


def _wrap_longitude(lon: float) -> float:
    """Wrap a longitude (degrees) to [-180, 180)."""
    return float((lon + 180.0) % 360.0 - 180.0)


class LocalProjection:
    """Transverse Mercator frame in km centred on ``(lat0, lon0)``.

    The frame is ``+proj=tmerc +lat_0=lat0 +lon_0=lon0 +units=km +ellps=WGS84``: ``x`` points
    east, ``y`` north, both in km, and the centre maps to ``(0, 0)``. Depths are not
    projected; callers carry them alongside (km, positive down).

    Parameters
    ----------
    lat0, lon0
        Centre of the frame in degrees (``lon0`` is wrapped to [-180, 180)).

    Examples
    --------
    >>> proj = LocalProjection(35.0, -117.5)
    >>> x, y = proj.to_local([35.0, 35.1], [-117.5, -117.5])
    >>> [round(v, 2) for v in y.tolist()]
    [0.0, 11.09]
    >>> lat, lon = proj.to_geographic(x, y)
    >>> [round(v, 6) for v in lat.tolist()]
    [35.0, 35.1]
    """

    def __init__(self, lat0: float, lon0: float) -> None:
        lat0 = float(lat0)
        lon0 = float(lon0)
        if not (np.isfinite(lat0) and np.isfinite(lon0)):
            raise ValueError(f"LocalProjection: centre must be finite, got ({lat0}, {lon0})")
        if abs(lat0) > 90.0:
            raise ValueError(f"LocalProjection: lat0={lat0} is outside [-90, 90] degrees")
        self.lat0 = lat0
        self.lon0 = _wrap_longitude(lon0)
        self._proj = pyproj.Proj(self.proj4)

    @property
    def proj4(self) -> str:
        """The PROJ definition string of the frame."""
        return (
            f"+proj=tmerc +lat_0={self.lat0!r} +lon_0={self.lon0!r} +k=1 +x_0=0 +y_0=0 "
            "+units=km +ellps=WGS84 +no_defs"
        )

    @classmethod
    def centred_on(cls, stations: pd.DataFrame) -> LocalProjection:
        """Frame centred on the middle of the stations' latitude/longitude extent.

        Longitudes are unwrapped so that a network straddling the antimeridian gets the
        centre of its short extent.

        Parameters
        ----------
        stations
            DataFrame with ``latitude`` and ``longitude`` columns (degrees).

        Returns
        -------
        LocalProjection

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"latitude": [10.0, 12.0], "longitude": [179.0, -179.0]})
        >>> p = LocalProjection.centred_on(df)
        >>> p.lat0, p.lon0
        (11.0, -180.0)
        """
        if not {"latitude", "longitude"} <= set(stations.columns):
            raise ValueError("centred_on: stations need 'latitude' and 'longitude' columns")
        lat = np.asarray(stations["latitude"], dtype=float)
        lon = np.asarray(stations["longitude"], dtype=float)
        ok = np.isfinite(lat) & np.isfinite(lon)
        if not ok.any():
            raise ValueError("centred_on: no station with finite coordinates")
        lat, lon = lat[ok], lon[ok]
        lon_a = (lon + 180.0) % 360.0 - 180.0  # [-180, 180)
        lon_b = lon_a % 360.0  # [0, 360)
        if np.ptp(lon_b) < np.ptp(lon_a):
            lon_mid = 0.5 * (lon_b.min() + lon_b.max())
        else:
            lon_mid = 0.5 * (lon_a.min() + lon_a.max())
        return cls(0.5 * (lat.min() + lat.max()), lon_mid)

    def to_local(self, lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
        """Project latitude/longitude (degrees) to local ``x`` (km east), ``y`` (km north).

        Parameters
        ----------
        lat, lon
            Array-likes of degrees, broadcast against each other.

        Returns
        -------
        tuple of numpy.ndarray
            ``(x_km, y_km)``, float64, with the broadcast shape of the inputs.

        Examples
        --------
        >>> x, y = LocalProjection(0.0, 0.0).to_local(0.0, 1.0)
        >>> round(float(x), 3), round(float(y), 3)
        (111.325, 0.0)
        """
        lat_a, lon_a = np.broadcast_arrays(
            np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        )
        if np.any(np.abs(lat_a) > 90.0):
            raise ValueError("to_local: latitude outside [-90, 90] degrees")
        x, y = self._proj(lon_a, lat_a)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def to_geographic(self, x_km: Any, y_km: Any) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of :meth:`to_local`: local km to ``(latitude, longitude)`` in degrees.

        Parameters
        ----------
        x_km, y_km
            Array-likes of km east/north of the centre, broadcast against each other.

        Returns
        -------
        tuple of numpy.ndarray
            ``(lat, lon)`` in degrees, float64, longitudes in [-180, 180].

        Examples
        --------
        >>> lat, lon = LocalProjection(0.0, 0.0).to_geographic(111.325, 0.0)
        >>> round(float(lat), 4), round(float(lon), 4)
        (0.0, 1.0)
        """
        x_a, y_a = np.broadcast_arrays(np.asarray(x_km, dtype=float), np.asarray(y_km, dtype=float))
        lon, lat = self._proj(x_a, y_a, inverse=True)
        return np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalProjection):
            return NotImplemented
        return self.lat0 == other.lat0 and self.lon0 == other.lon0

    def __hash__(self) -> int:
        return hash((LocalProjection, self.lat0, self.lon0))

    def __repr__(self) -> str:
        return f"LocalProjection(lat0={self.lat0!r}, lon0={self.lon0!r})"

    def __reduce__(self) -> tuple[type, tuple[float, float]]:
        return (LocalProjection, (self.lat0, self.lon0))


def epicentral_distance_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Geodesic distance on the WGS84 ellipsoid in km, vectorised with broadcasting.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        Array-likes of degrees.

    Returns
    -------
    numpy.ndarray
        Distances in km (float64) with the broadcast shape of the inputs.

    Examples
    --------
    >>> round(float(epicentral_distance_km(0.0, 0.0, 0.0, 1.0)), 3)
    111.319
    """
    a, b, c, d = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2))
    )
    _, _, dist_m = _GEOD.inv(b, a, d, c)
    return np.asarray(dist_m, dtype=float) / 1000.0


def azimuth_deg(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Forward azimuth from point 1 to point 2 in degrees clockwise from north, in [0, 360).

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        Array-likes of degrees, broadcast against each other.

    Returns
    -------
    numpy.ndarray
        Azimuths in degrees (float64).

    Examples
    --------
    >>> round(float(azimuth_deg(0.0, 0.0, 0.0, 1.0)), 6)
    90.0
    """
    a, b, c, d = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2))
    )
    az, _, _ = _GEOD.inv(b, a, d, c)
    return np.mod(np.asarray(az, dtype=float), 360.0)


def central_angle_rad(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Angle (radians) between two points seen from the centre of a spherical Earth
    (haversine formula), vectorised with broadcasting.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        Array-likes of degrees.

    Returns
    -------
    numpy.ndarray
        Angles in radians.

    Examples
    --------
    >>> round(float(np.degrees(central_angle_rad(0.0, 0.0, 0.0, 1.0))), 9)
    1.0
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlon = np.radians(lon2) - np.radians(lon1)
    hav = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return 2 * np.arcsin(np.sqrt(np.clip(hav, 0.0, 1.0)))


def great_circle_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> np.ndarray:
    """Great-circle distance (km) on a sphere of radius :data:`EARTH_RADIUS_KM`.

    Faster than :func:`epicentral_distance_km` (WGS84 geodesic) and within 0.5 % of it.

    Examples
    --------
    >>> round(float(great_circle_km(0.0, 0.0, 1.0, 0.0)), 3)
    111.195
    """
    return EARTH_RADIUS_KM * central_angle_rad(lat1, lon1, lat2, lon2)
