"""Station tables: the one format every layer of seisbench-genie reads.

A station table is a :class:`pandas.DataFrame` with the columns ``id`` (``"NET.STA.LOC"``, the
SeisBench ``trace_id`` convention, e.g. ``"CX.PB01."`` for an empty location code),
``latitude`` and ``longitude`` (degrees) and ``elevation`` (m above sea level).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

STATION_COLUMNS = ["id", "latitude", "longitude", "elevation"]


def _from_inventory(inventory: Any) -> pd.DataFrame:
    rows: list[tuple[str, float, float, float]] = []
    for network in inventory:
        for station in network:
            locations: dict[str, tuple[float, float, float]] = {}
            for channel in station:
                loc = channel.location_code or ""
                lat = channel.latitude if channel.latitude is not None else station.latitude
                lon = channel.longitude if channel.longitude is not None else station.longitude
                elev = channel.elevation if channel.elevation is not None else station.elevation
                locations.setdefault(loc, (lat, lon, elev))
            # Empty-location fallback: SeisBench ids of picks on "NET.STA." must still resolve.
            locations.setdefault("", (station.latitude, station.longitude, station.elevation))
            for loc, (lat, lon, elev) in locations.items():
                rows.append((f"{network.code}.{station.code}.{loc}", lat, lon, elev))
    return pd.DataFrame(rows, columns=STATION_COLUMNS)


def station_table(stations: Any, argument: str = "stations") -> pd.DataFrame:
    """Normalise stations to a validated station table.

    Parameters
    ----------
    stations
        An ObsPy :class:`~obspy.core.inventory.Inventory` or a DataFrame with ``id``,
        ``latitude``, ``longitude`` (degrees) and optionally ``elevation`` (m; 0 if missing;
        ``elevation_m`` is accepted as an alias).
    argument
        Name of the argument being checked, used in error messages.

    Returns
    -------
    pandas.DataFrame
        Columns ``id``, ``latitude``, ``longitude``, ``elevation`` (m), one row per unique id,
        with a fresh RangeIndex.

    Raises
    ------
    ValueError
        When a column is missing, an id is duplicated with different coordinates, or a
        coordinate is missing or out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"id": ["CX.PB01."], "latitude": [-21.04], "longitude": [-69.49]})
    >>> station_table(df)["elevation"].tolist()
    [0.0]
    """
    if hasattr(stations, "networks"):
        table = _from_inventory(stations)
    elif isinstance(stations, pd.DataFrame):
        table = stations.copy()
        if "elevation" not in table.columns:
            table["elevation"] = table["elevation_m"] if "elevation_m" in table.columns else 0.0
        missing = [c for c in ("id", "latitude", "longitude") if c not in table.columns]
        if missing:
            raise ValueError(
                f"{argument}: missing column(s) {missing}; a station table needs "
                f"{STATION_COLUMNS} (elevation in m, optional)"
            )
        table = table[STATION_COLUMNS]
    else:
        raise ValueError(
            f"{argument}: expected an ObsPy Inventory or a pandas DataFrame, got "
            f"{type(stations).__name__}"
        )
    table["id"] = table["id"].astype(str)
    for col in ("latitude", "longitude", "elevation"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
    table["elevation"] = table["elevation"].fillna(0.0)
    bad = ~np.isfinite(table[["latitude", "longitude"]].to_numpy()).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{argument}: {int(bad.sum())} station(s) without coordinates: "
            f"{table.loc[bad, 'id'].head(5).tolist()}"
        )
    if (table["latitude"].abs() > 90).any() or (table["longitude"].abs() > 360).any():
        raise ValueError(f"{argument}: latitude/longitude out of range (degrees expected)")
    table = table.drop_duplicates()
    dup = table["id"].duplicated(keep=False)
    if dup.any():
        raise ValueError(
            f"{argument}: station id(s) listed with different coordinates: "
            f"{sorted(set(table.loc[dup, 'id']))[:5]}"
        )
    return table.reset_index(drop=True)
