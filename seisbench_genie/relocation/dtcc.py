"""Reading HypoDD ``dt.cc`` files of waveform cross-correlation differential times."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DTCC_COLUMNS", "read_dtcc"]

#: Columns of the table :func:`read_dtcc` returns.
DTCC_COLUMNS = ["event1", "event2", "station", "phase", "dt_s", "weight"]


def read_dtcc(path: str | Path) -> pd.DataFrame:
    """Read a HypoDD ``dt.cc`` file.

    The file alternates header lines ``# ID1 ID2 OTC`` (an event pair; the origin-time
    correction OTC is read and not used: differential times are taken relative to the
    catalog's origin times) and observation lines ``STA DT WGHT PHA`` (station code,
    differential travel time ``t1 - t2`` in s, weight, phase ``P`` or ``S``).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DTCC_COLUMNS`: ``event1``, ``event2`` (ids as strings), ``station``,
        ``phase``, ``dt_s`` (s), ``weight``. How ids are matched to catalog events is
        described in :meth:`~seisbench_genie.relocation.GraphDD.relocate`.

    Raises
    ------
    ValueError
        When the file is missing, has an observation line before any ``#`` line, or a line
        that is not four fields.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "dt.cc"
    >>> _ = p.write_text("# 1 2 0.0\\nABC 0.012 0.9 P\\nDEF -0.030 0.7 S\\n# 1 3 0.0\\n"
    ...                  "ABC 0.100 1.0 P\\n")
    >>> read_dtcc(p).values.tolist()[0]
    ['1', '2', 'ABC', 'P', 0.012, 0.9]
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"differential_times: file {path} does not exist")
    lines = pd.Series(path.read_text().splitlines())
    lines = lines[lines.str.strip() != ""].str.strip()
    if lines.empty:
        return pd.DataFrame({c: pd.Series(dtype=float if c in ("dt_s", "weight") else object)
                             for c in DTCC_COLUMNS})
    header = lines.str.startswith("#")
    body = lines.str.lstrip("#").str.split()
    n_fields = body.str.len()
    bad = (header & (n_fields < 2)) | (~header & (n_fields != 4))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"differential_times: {path}: line {lines.index[i] + 1} is not "
                         f"'# ID1 ID2 [OTC]' or 'STA DT WGHT PHA': {lines.iloc[i]!r}")
    if not header.iloc[0]:
        raise ValueError(f"differential_times: {path}: observations before the first "
                         "'# ID1 ID2 OTC' line")
    event1 = body.str[0].where(header).ffill()
    event2 = body.str[1].where(header).ffill()
    obs = ~header
    fields = body[obs]
    out = pd.DataFrame({
        "event1": event1[obs].to_numpy(), "event2": event2[obs].to_numpy(),
        "station": fields.str[0].to_numpy(), "phase": fields.str[3].str.upper().to_numpy(),
        "dt_s": pd.to_numeric(fields.str[1], errors="coerce").to_numpy(),
        "weight": pd.to_numeric(fields.str[2], errors="coerce").to_numpy(),
    })
    if out[["dt_s", "weight"]].isna().any().any():
        raise ValueError(f"differential_times: {path}: non-numeric DT or WGHT in "
                         f"{int(out[['dt_s', 'weight']].isna().any(axis=1).sum())} line(s)")
    return out[DTCC_COLUMNS]
