"""Velocity models, the eikonal solver shared by the gridded backends, and the table cache.

A 1-D velocity model is a :class:`pandas.DataFrame` of constant-velocity layers given by their
tops: ``depth_km`` (km below sea level, strictly increasing), ``vp`` and ``vs`` (km/s). The
last layer extends down to the bottom of any table. :func:`validate_velocity_model` checks a
model and normalises its column names.

:func:`point_source_travel_time` solves the eikonal equation with scikit-fmm (second-order fast
marching) from a point source on a regular grid of any dimension. The point source is handled
by starting the march on a small sphere around it whose travel times are the exact times of the
local (source) velocity; see its docstring.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import skfmm

__all__ = [
    "MODEL_COLUMNS",
    "cache_key",
    "default_cache_dir",
    "layer_average_speed",
    "load_cached_arrays",
    "point_source_travel_time",
    "save_cached_arrays",
    "validate_velocity_model",
]

#: Canonical column names of a 1-D velocity model.
MODEL_COLUMNS = ["depth_km", "vp", "vs"]

_ALIASES: dict[str, tuple[str, ...]] = {
    "depth_km": ("depth_km", "depth_top_km", "depth"),
    "vp": ("vp", "vp_km_s"),
    "vs": ("vs", "vs_km_s"),
}


def validate_velocity_model(model: pd.DataFrame) -> pd.DataFrame:
    """Check a layered (1-D) velocity model and return it with canonical columns.

    Parameters
    ----------
    model
        DataFrame of constant-velocity layers given by their tops: ``depth_km`` (km below
        sea level; aliases ``depth_top_km``, ``depth``), ``vp`` and ``vs`` (km/s; aliases
        ``vp_km_s``, ``vs_km_s``). Other columns are ignored.

    Returns
    -------
    pandas.DataFrame
        Columns ``depth_km``, ``vp``, ``vs`` (float64) with a fresh RangeIndex.

    Raises
    ------
    ValueError
        When a column is missing, a value is NaN or infinite, the layer tops are not strictly
        increasing, or a velocity is not positive; the message names the problem.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"depth": [0, 20], "vp_km_s": [6.0, 8.0], "vs_km_s": [3.5, 4.6]})
    >>> validate_velocity_model(df).columns.tolist()
    ['depth_km', 'vp', 'vs']
    """
    if not isinstance(model, pd.DataFrame):
        raise ValueError(f"velocity model: expected a pandas DataFrame, got {type(model).__name__}")
    columns: dict[str, Any] = {}
    for canonical, aliases in _ALIASES.items():
        found = next((a for a in aliases if a in model.columns), None)
        if found is None:
            raise ValueError(
                f"velocity model: missing column {canonical!r} (accepted names: "
                f"{list(aliases)}); got columns {list(model.columns)}"
            )
        columns[canonical] = pd.to_numeric(model[found], errors="coerce").to_numpy(float)
    out = pd.DataFrame(columns)
    if len(out) == 0:
        raise ValueError("velocity model: no layers")
    values = out.to_numpy()
    if not np.isfinite(values).all():
        bad = out.columns[~np.isfinite(values).all(axis=0)].tolist()
        raise ValueError(f"velocity model: NaN, infinite or non-numeric value(s) in {bad}")
    depth = out["depth_km"].to_numpy()
    if len(depth) > 1 and not (np.diff(depth) > 0).all():
        i = int(np.argmin(np.diff(depth) > 0))
        raise ValueError(
            "velocity model: layer tops must be strictly increasing; depth_km goes from "
            f"{depth[i]} to {depth[i + 1]} at rows {i}-{i + 1}"
        )
    for col in ("vp", "vs"):
        v = out[col].to_numpy()
        if (v <= 0).any():
            i = int(np.argmax(v <= 0))
            raise ValueError(
                f"velocity model: velocities must be positive; {col}={v[i]} km/s at row {i} "
                f"(depth_km={depth[i]})"
            )
    return out.reset_index(drop=True)


def layer_velocity_at(depth_top_km: np.ndarray, velocity: np.ndarray, z_km: Any) -> np.ndarray:
    """Velocity of the layer containing each depth (the first layer also extends upward).

    Parameters
    ----------
    depth_top_km
        Layer tops (km), strictly increasing.
    velocity
        Layer velocities (km/s), same length.
    z_km
        Depths (km).

    Returns
    -------
    numpy.ndarray
        Velocities in km/s, shaped like ``z_km``.

    Examples
    --------
    >>> layer_velocity_at(np.array([0.0, 20.0]), np.array([6.0, 8.0]), [5.0, 20.0, 30.0])
    array([6., 8., 8.])
    """
    idx = np.searchsorted(np.asarray(depth_top_km), np.asarray(z_km, dtype=float), side="right")
    return np.asarray(velocity, dtype=float)[np.clip(idx - 1, 0, len(velocity) - 1)]


def layer_average_speed(
    depth_top_km: np.ndarray, velocity: np.ndarray, z_km: np.ndarray, spacing_km: float
) -> np.ndarray:
    """Node speeds of a layered model: mean velocity over each node's cell.

    The cell of a node at depth ``z`` is ``[z - h/2, z + h/2]`` with ``h = spacing_km``; a
    node on an interface gets the average of the two layers. This places the interfaces of the
    discrete model where the layer tops are, between nodes, which keeps head-wave times
    accurate to a small fraction of the grid spacing.

    Parameters
    ----------
    depth_top_km, velocity
        Layer tops (km) and velocities (km/s).
    z_km
        Node depths (km), any shape.
    spacing_km
        Grid spacing in depth (km).

    Returns
    -------
    numpy.ndarray
        Speeds (km/s), shaped like ``z_km``.

    Examples
    --------
    >>> layer_average_speed(np.array([0.0, 1.0]), np.array([6.0, 8.0]), np.array([0.0, 1.0]), 0.5)
    array([6., 7.])
    """
    depth_top_km = np.asarray(depth_top_km, dtype=float)
    velocity = np.asarray(velocity, dtype=float)
    z = np.asarray(z_km, dtype=float)
    lo = z - 0.5 * spacing_km
    hi = z + 0.5 * spacing_km
    # Integrate the piecewise-constant velocity over [lo, hi]; layer i spans [top_i, top_i+1).
    tops = depth_top_km.copy()
    tops[0] = -np.inf
    bottoms = np.append(depth_top_km[1:], np.inf)
    total = np.zeros_like(z)
    for top, bottom, v in zip(tops, bottoms, velocity, strict=True):  # loop over layers only
        overlap = np.clip(np.minimum(hi, bottom) - np.maximum(lo, top), 0.0, None)
        total += overlap * v
    return total / spacing_km


def _band_mask(phi: np.ndarray) -> np.ndarray:
    """Nodes that skfmm freezes initially: on the zero contour or next to a sign change."""
    sign = np.sign(phi)
    band = phi == 0
    for axis in range(phi.ndim):
        lead = [slice(None)] * phi.ndim
        trail = [slice(None)] * phi.ndim
        lead[axis] = slice(1, None)
        trail[axis] = slice(None, -1)
        cross = sign[tuple(lead)] * sign[tuple(trail)] < 0
        band[tuple(lead)] |= cross
        band[tuple(trail)] |= cross
    return band


def point_source_travel_time(
    speed_km_s: np.ndarray,
    spacing_km: float | Sequence[float],
    source_km: Sequence[float],
    radius_km: float,
    source_speed_km_s: float | None = None,
) -> np.ndarray:
    """First-arrival times (s) from a point source on a regular grid (scikit-fmm, order 2).

    The march starts on the sphere of radius ``radius_km`` around the source: nodes inside it
    get the exact time ``r / v0`` of the source velocity ``v0``. skfmm freezes the nodes next
    to the starting contour with times it estimates by linear interpolation of ``phi``; for a
    curved contour that estimate is off by up to a few tenths of a grid spacing. Because skfmm
    converts a frozen node's distance ``d`` to a time as ``d / speed``, the speed of those
    (frozen, never updated) nodes is set to ``v0 * d / |r - R|`` so that they start with the
    exact time. The frozen times are verified after the solve; if a future skfmm initialises
    differently, the plain contour start is used instead (with a warning), which is about three
    times less accurate near the source.

    Parameters
    ----------
    speed_km_s
        Node velocities (km/s), shape of the grid; must be positive.
    spacing_km
        Grid spacing per axis (km), a scalar or one value per axis.
    source_km
        Source position (km) relative to the first node, one value per axis; need not be on a
        node, may sit on the grid boundary.
    radius_km
        Radius of the exactly initialised sphere (km); at least ``max(spacing) * sqrt(ndim)``
        is enforced so that it contains a node. The medium should be homogeneous inside it.
    source_speed_km_s
        Velocity used inside the sphere; default: the speed at the node nearest the source.

    Returns
    -------
    numpy.ndarray
        Travel times (s), float64, shape of the grid.

    Examples
    --------
    >>> speed = np.full((81, 41), 6.0)
    >>> t = point_source_travel_time(speed, 0.5, (0.0, 0.0), radius_km=3.0)
    >>> bool(abs(t[80, 0] - 40.0 / 6.0) < 2e-3)
    True
    """
    speed = np.asarray(speed_km_s, dtype=float)
    ndim = speed.ndim
    spacing = np.broadcast_to(np.asarray(spacing_km, dtype=float), (ndim,)).copy()
    source = np.asarray(source_km, dtype=float)
    if source.shape != (ndim,):
        raise ValueError(f"source_km needs {ndim} coordinates, got {source.shape}")
    if not (speed > 0).all() or not np.isfinite(speed).all():
        raise ValueError("speed_km_s must be positive and finite everywhere")
    node = np.clip(np.rint(source / spacing).astype(int), 0, np.array(speed.shape) - 1)
    v0 = float(speed[tuple(node)]) if source_speed_km_s is None else float(source_speed_km_s)
    radius = max(float(radius_km), float(spacing.max()) * np.sqrt(ndim))

    axes = [np.arange(n) * h - s for n, h, s in zip(speed.shape, spacing, source, strict=True)]
    r2 = np.zeros(speed.shape)
    for i, ax in enumerate(axes):
        shape = [1] * ndim
        shape[i] = -1
        r2 = r2 + ax.reshape(shape) ** 2
    r = np.sqrt(r2)
    phi = r - radius
    inside = phi < 0
    if not inside.any():
        raise ValueError("point source: the starting sphere contains no grid node")

    band = _band_mask(phi)
    d0 = np.abs(np.asarray(skfmm.distance(phi, dx=spacing, narrow=float(spacing.max()))))
    fix = band & (phi != 0) & (d0 > 0)
    exact_speed = speed.copy()
    exact_speed[fix] = v0 * d0[fix] / np.abs(phi[fix])
    tau = np.asarray(skfmm.travel_time(phi, exact_speed, dx=spacing, order=2), dtype=float)
    if not np.allclose(tau[band], np.abs(phi[band]) / v0, rtol=1e-6, atol=1e-9):
        warnings.warn(
            "skfmm initialised the starting contour differently than expected; falling back "
            "to its own initialisation (less accurate near the source)",
            RuntimeWarning,
            stacklevel=2,
        )
        tau = np.asarray(skfmm.travel_time(phi, speed, dx=spacing, order=2), dtype=float)
    t = tau + radius / v0
    t[inside] = r[inside] / v0
    return t


# --------------------------------------------------------------------------------------------
# On-disk cache of travel-time tables
# --------------------------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """Directory of cached travel-time tables.

    ``$SEISBENCH_GENIE_CACHE/traveltimes`` when that variable is set, otherwise
    ``~/.cache/seisbench_genie/traveltimes``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> default_cache_dir().name
    'traveltimes'
    """
    root = os.environ.get("SEISBENCH_GENIE_CACHE")
    if root:
        return Path(root).expanduser() / "traveltimes"
    return Path("~/.cache/seisbench_genie").expanduser() / "traveltimes"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {
            "dtype": str(value.dtype),
            "shape": list(value.shape),
            "sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest(),
        }
    if isinstance(value, pd.DataFrame):
        return {"columns": list(value.columns), "values": _jsonable(value.to_numpy(float))}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return repr(float(value))
    if isinstance(value, (np.integer, int)):
        return int(value)
    return value


def cache_key(**parameters: Any) -> str:
    """sha256 hex digest identifying a table by everything it depends on.

    Parameters
    ----------
    **parameters
        JSON-able values, numpy arrays (hashed by content) or DataFrames.

    Returns
    -------
    str
        64 hex characters.

    Examples
    --------
    >>> len(cache_key(kind="layered", spacing_km=0.25))
    64
    """
    blob = json.dumps(_jsonable(parameters), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def load_cached_arrays(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """Arrays of a cached ``.npz`` table, or None if missing, unreadable or of another key.

    Parameters
    ----------
    path
        The ``.npz`` file.
    key
        Expected :func:`cache_key` (stored in the file as ``key``).

    Returns
    -------
    dict or None

    Examples
    --------
    >>> load_cached_arrays(Path("/nonexistent.npz"), "0" * 64) is None
    True
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as err:
        warnings.warn(f"ignoring unreadable travel-time cache {path}: {err}", stacklevel=2)
        return None
    if str(arrays.pop("key", "")) != key:
        return None
    return arrays


def save_cached_arrays(path: Path, key: str, arrays: Mapping[str, np.ndarray]) -> bool:
    """Atomically write arrays and their key to ``path`` (.npz); warn and skip on failure.

    Parameters
    ----------
    path
        Destination ``.npz`` file; its directory is created.
    key
        The table's :func:`cache_key`.
    arrays
        Arrays to store.

    Returns
    -------
    bool
        Whether the file was written.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.npz"
    >>> save_cached_arrays(p, "k", {"a": np.zeros(2)}), load_cached_arrays(p, "k")["a"].tolist()
    (True, [0.0, 0.0])
    """
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, key=np.array(key), **arrays)
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        warnings.warn(f"could not write travel-time cache {path}: {err}", stacklevel=2)
        return False
    return True
