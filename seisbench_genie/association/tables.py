"""The association's result as tables (end of step 12): events in the local frame and the
assignments of picks to them, both in the columns of :mod:`seisbench_genie.schema`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from seisbench_genie.association.inputs import PickSet
from seisbench_genie.location import LocationResult
from seisbench_genie.schema import ASSIGNMENT_COLUMNS, LOCAL_EVENT_COLUMNS, empty_table


def empty_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (local frame) and assignments with no rows.

    Examples
    --------
    >>> events, assignments = empty_tables()
    >>> len(events), list(assignments.columns)[:2]
    (0, ['pick_idx', 'event_idx'])
    """
    return empty_table(LOCAL_EVENT_COLUMNS), empty_table(ASSIGNMENT_COLUMNS)


def keep_events(events: pd.DataFrame, assignments: pd.DataFrame, keep: np.ndarray
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The events whose ``keep[event_idx]`` is True and their assignments, renumbered 0, 1,
    ... in their order (``event_idx`` must be 0 .. len(events) - 1); the picks of the others
    stay unassociated.

    Examples
    --------
    >>> ev = pd.DataFrame({"event_idx": [0, 1, 2], "time": [10.0, 20.0, 30.0]})
    >>> asg = pd.DataFrame({"pick_idx": [4, 5, 6], "event_idx": [0, 1, 2]})
    >>> e, a = keep_events(ev, asg, np.array([True, False, True]))
    >>> e["event_idx"].tolist(), a["pick_idx"].tolist(), a["event_idx"].tolist()
    ([0, 1], [4, 6], [0, 1])
    """
    keep = np.asarray(keep, dtype=bool)
    if keep.all():
        return events, assignments
    renumber = np.full(len(keep), -1)
    renumber[keep] = np.arange(int(keep.sum()))
    kept = events[keep[events["event_idx"].to_numpy()]]
    kept = kept.assign(event_idx=renumber[kept["event_idx"].to_numpy()]).reset_index(drop=True)
    held = assignments[keep[assignments["event_idx"].to_numpy()]]
    held = held.assign(event_idx=renumber[held["event_idx"].to_numpy()]).reset_index(drop=True)
    return kept, held


def event_tables(picks: PickSet, location: LocationResult, score: torch.Tensor,
                 links: pd.DataFrame, sources: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event and assignment tables of located ``sources`` (sorted) and their links.

    Events are numbered by origin time; ``score`` is indexed by source.

    Parameters
    ----------
    picks
        The run's picks (their reference time and input positions).
    location
        Locations of ``sources`` with per-link residuals.
    score
        (S,) detection score of every source.
    links
        The sources' links (``source``, ``pick``, ``station``, ``phase``, ``probability``).
    sources
        Sorted sources kept.

    Returns
    -------
    events, assignments : pandas.DataFrame
        :data:`~seisbench_genie.schema.LOCAL_EVENT_COLUMNS` and
        :data:`~seisbench_genie.schema.ASSIGNMENT_COLUMNS`.

    Examples
    --------
    >>> # exercised through seisbench_genie.GENIE.classify
    """
    if len(sources) == 0:
        return empty_tables()
    remap = np.full(int(sources.max()) + 1, -1)
    remap[sources] = np.arange(len(sources))
    ev = torch.as_tensor(remap[links["source"].to_numpy()], dtype=torch.long)
    ph = torch.as_tensor(links["phase"].to_numpy(), dtype=torch.long)
    idx = torch.as_tensor(sources)
    n_picks = np.bincount(ev.numpy(), minlength=len(sources))
    n_stations = links.assign(e=ev.numpy()).groupby("e")["station"].nunique() \
        .reindex(range(len(sources)), fill_value=0).to_numpy()
    res = location
    events = pd.DataFrame({
        "event_idx": np.arange(len(sources)),
        "time": res.origin_s.numpy() + picks.t_ref,
        "x_km": res.xyz_km[:, 0].numpy(), "y_km": res.xyz_km[:, 1].numpy(),
        "depth_km": res.xyz_km[:, 2].numpy(),
        "horizontal_uncertainty_km": res.horizontal_uncertainty_km.numpy(),
        "depth_uncertainty_km": res.depth_uncertainty_km.numpy(),
        "time_uncertainty_s": res.time_uncertainty_s.numpy(),
        "n_picks": n_picks, "n_stations": n_stations,
        "score": score[idx].numpy().astype(float), "rms_s": res.rms_s.numpy(),
    })[LOCAL_EVENT_COLUMNS]
    order = np.argsort(events["time"].to_numpy(), kind="stable")
    new_id = np.empty(len(order), dtype=int)
    new_id[order] = np.arange(len(order))
    events = events.iloc[order].reset_index(drop=True)
    events["event_idx"] = np.arange(len(events))
    assignments = pd.DataFrame({
        "pick_idx": picks.pick_idx[links["pick"].to_numpy()],
        "event_idx": new_id[ev.numpy()],
        "phase": np.where(ph.numpy() == 1, "S", "P"),
        "probability": links["probability"].to_numpy().astype(float),
        "residual_s": location.residual_s.numpy(),
    })[ASSIGNMENT_COLUMNS].sort_values(["event_idx", "pick_idx"]).reset_index(drop=True)
    return events, assignments
