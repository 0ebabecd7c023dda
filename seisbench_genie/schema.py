"""The columns of the tables an association produces: one schema for the association, the
model's output, the Catalog builder and the benchmark's file contract.

An association gives two tables. **Events**: one row per event, ``event_idx`` (0..n-1 by
origin time), ``time`` (POSIX s), the hypocentre, and quality columns. **Assignments**: one
row per associated pick, ``pick_idx`` (the pick's position in the input), ``event_idx``, the
phase the associator chose, its association probability and its travel-time residual.
"""

from __future__ import annotations

import pandas as pd

#: Event columns every associator gives (the benchmark's file contract and the Catalog's).
EVENT_REQUIRED_COLUMNS = ["event_idx", "time", "latitude", "longitude", "depth_km"]
#: Event quality columns: one-sigma uncertainties (km, km, s), associated picks, stations
#: with associated picks, detection score (0-1) and RMS residual (s).
EVENT_QUALITY_COLUMNS = ["horizontal_uncertainty_km", "depth_uncertainty_km",
                         "time_uncertainty_s", "n_picks", "n_stations", "score", "rms_s"]
#: Events in geographic coordinates (degrees, depth in km below sea level).
EVENT_COLUMNS = EVENT_REQUIRED_COLUMNS + EVENT_QUALITY_COLUMNS
#: Events in the association's local frame (``x_km`` east, ``y_km`` north of its centre).
LOCAL_EVENT_COLUMNS = ["event_idx", "time", "x_km", "y_km", "depth_km"] + EVENT_QUALITY_COLUMNS
#: Assignment columns every associator gives.
ASSIGNMENT_REQUIRED_COLUMNS = ["pick_idx", "event_idx"]
#: Assignment columns of GENIE: phase ("P"/"S"), probability (0-1), residual (s, observed
#: minus predicted).
ASSIGNMENT_COLUMNS = ASSIGNMENT_REQUIRED_COLUMNS + ["phase", "probability", "residual_s"]


def empty_table(columns: list[str]) -> pd.DataFrame:
    """A table with ``columns`` and no rows (float columns).

    Examples
    --------
    >>> list(empty_table(ASSIGNMENT_COLUMNS).columns)
    ['pick_idx', 'event_idx', 'phase', 'probability', 'residual_s']
    """
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
