"""Association scores after Puente et al. (2025), section 3.3.

A true event is *retrieved* when one predicted event holds at least 50 % of its picks. Matching is
one-to-one (a predicted event can retrieve at most one true event, so two true events merged into
one prediction count once), solved as a maximum-weight bipartite matching on the pick overlap.

Event level: TP = matched pairs, FP = predicted events not matched, FN = true events not matched.
Pick level (over matched pairs only): correctly associated picks (TP), missed picks (FN), false
picks (noise picks added to the event) and wrongly associated picks (picks of another true event);
FP = false + wrong. Location errors are taken over matched pairs.

Out-of-network events (``in_network == False`` in the true events) are left out of recall, and a
predicted event matched to one is left out of precision, so that the scores describe the
in-network catalogue as in the paper's section 4.4.2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix

from seisbench_genie.geo import great_circle_km


@dataclass
class AssociationScores:
    """Scores of one associator run; see the module docstring for the definitions."""

    event_precision: float
    event_recall: float
    event_f1: float
    n_true_events: int
    n_pred_events: int
    n_matched: int
    pick_precision: float
    pick_recall: float
    pick_f1: float
    missed_picks_per_event: float
    false_picks_per_event: float
    wrong_picks_per_event: float
    epicentral_error_km: float
    depth_error_km: float
    origin_time_error_s: float

    def as_dict(self) -> dict:
        """The scores as a plain dict (for tables)."""
        return asdict(self)


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def match_events(
    true_event: np.ndarray, pred_event: np.ndarray, threshold: float = 0.5,
    true_sizes: pd.Series | None = None,
) -> pd.DataFrame:
    """One-to-one matching of predicted to true events by pick overlap.

    Parameters
    ----------
    true_event
        Per pick (or per assignment row), the true event id (-1 for a false pick).
    pred_event
        Per pick (or per assignment row), the predicted event id (-1 when unassociated).
    threshold
        Minimum fraction of the true event's picks the predicted event must hold.
    true_sizes
        Number of picks of each true event (index: event id); default: counted from
        ``true_event`` (right when it holds one entry per pick).

    Returns
    -------
    pandas.DataFrame
        ``true_event``, ``pred_event``, ``overlap`` (shared picks) for each matched pair.

    Examples
    --------
    Two true events merged into one prediction are retrieved once:

    >>> match_events(np.array([0, 0, 0, 1, 1]), np.array([5, 5, 5, 5, -1]))
       true_event  pred_event  overlap
    0           0           5        3
    """
    both = (true_event >= 0) & (pred_event >= 0)
    if not both.any():
        return pd.DataFrame({"true_event": [], "pred_event": [], "overlap": []}, dtype=int)
    t_ids, t_inv = np.unique(true_event[both], return_inverse=True)
    p_ids, p_inv = np.unique(pred_event[both], return_inverse=True)
    overlap = coo_matrix((np.ones(both.sum()), (t_inv, p_inv)),
                         shape=(len(t_ids), len(p_ids))).tocsr()
    overlap.sum_duplicates()
    t_sizes = (pd.Series(true_event[true_event >= 0]).value_counts() if true_sizes is None
               else true_sizes)
    ov = overlap.tocoo()
    frac = ov.data / t_sizes.loc[t_ids[ov.row]].to_numpy()
    ok = frac >= threshold
    rows, cols, shared = ov.row[ok], ov.col[ok], ov.data[ok]
    if not len(rows):
        return pd.DataFrame({"true_event": [], "pred_event": [], "overlap": []}, dtype=int)
    # Maximum-weight one-to-one matching restricted to the candidate pairs.
    ur, r_inv = np.unique(rows, return_inverse=True)
    uc, c_inv = np.unique(cols, return_inverse=True)
    weight = np.zeros((len(ur), len(uc)))
    weight[r_inv, c_inv] = 1e6 + shared  # count matches first, then overlap
    ri, ci = linear_sum_assignment(weight, maximize=True)
    keep = weight[ri, ci] > 0
    ri, ci = ri[keep], ci[keep]
    return pd.DataFrame({
        "true_event": t_ids[ur[ri]].astype(int), "pred_event": p_ids[uc[ci]].astype(int),
        "overlap": weight[ri, ci].astype(int) - 1_000_000,
    })


def evaluate(
    picks: pd.DataFrame,
    assignments: pd.DataFrame,
    true_events: pd.DataFrame | None = None,
    pred_events: pd.DataFrame | None = None,
    threshold: float = 0.5,
) -> AssociationScores:
    """Score an association against the ground truth.

    Parameters
    ----------
    picks
        The input picks with their true ``event`` (-1 for false picks); row position is the
        ``pick_idx``.
    assignments
        ``pick_idx`` (position in ``picks``) and ``event_idx`` (predicted event) per associated
        pick. A pick listed under two events counts for both (PyOcto may do this).
    true_events
        Optional: ``event``, ``time`` (s), ``latitude``, ``longitude``, ``depth_km`` and
        optionally ``in_network``; needed for location errors and out-of-network handling.
    pred_events
        Optional: ``event_idx``, ``time``, ``latitude``, ``longitude``, ``depth_km``; needed for
        location errors. Predicted events without picks in ``assignments`` are counted too.
    threshold
        Fraction of a true event's picks a prediction must hold (0.5 in Puente et al.).

    Returns
    -------
    AssociationScores
        Location errors are medians over matched pairs (NaN without event tables).

    Examples
    --------
    >>> picks = pd.DataFrame({"event": [0, 0, 0, -1]})
    >>> asg = pd.DataFrame({"pick_idx": [0, 1, 3], "event_idx": [7, 7, 7]})
    >>> s = evaluate(picks, asg)
    >>> s.event_f1, s.false_picks_per_event
    (1.0, 1.0)
    """
    true_event = picks["event"].to_numpy().astype(int)
    t_sizes = pd.Series(true_event[true_event >= 0]).value_counts()
    # Scores are computed over assignment rows, so an associator that puts one pick into two
    # events (PyOcto may, across its time slices) has it counted in both.
    idx = assignments["pick_idx"].to_numpy().astype(int) if len(assignments) else \
        np.zeros(0, dtype=int)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(picks)):
        raise ValueError("assignments: pick_idx outside the pick table")
    row_true = true_event[idx]
    row_pred = (assignments["event_idx"].to_numpy().astype(int) if len(assignments)
                else np.zeros(0, dtype=int))
    matches = match_events(row_true, row_pred, threshold, true_sizes=t_sizes)

    true_ids = np.unique(true_event[true_event >= 0])
    if true_events is not None and len(true_events):
        true_ids = np.union1d(true_ids, true_events["event"].to_numpy().astype(int))
    pred_ids = np.unique(row_pred)
    if pred_events is not None and len(pred_events):
        pred_ids = np.union1d(pred_ids, pred_events["event_idx"].to_numpy().astype(int))
    outside: set[int] = set()
    if true_events is not None and "in_network" in true_events:
        outside = set(true_events.loc[~true_events["in_network"].astype(bool), "event"])
    m_out = matches["true_event"].isin(outside).to_numpy()
    n_true = len(set(true_ids) - outside)
    n_pred = len(pred_ids) - int(m_out.sum())
    inside = matches[~m_out]
    tp = len(inside)
    precision, recall = _ratio(tp, n_pred), _ratio(tp, n_true)

    # Pick level over matched (in-network) pairs.
    pred_table = pd.DataFrame({"pred": row_pred, "true": row_true})
    n_in_pred = pred_table["pred"].value_counts()
    n_false = pred_table[pred_table["true"] < 0]["pred"].value_counts()
    pt, pp = inside["true_event"].to_numpy(), inside["pred_event"].to_numpy()
    correct = inside["overlap"].to_numpy().astype(float)
    total_true = t_sizes.reindex(pt).fillna(0).to_numpy()
    total_pred = n_in_pred.reindex(pp).fillna(0).to_numpy()
    false_ = n_false.reindex(pp).fillna(0).to_numpy()
    wrong = total_pred - correct - false_
    missed = total_true - correct
    pick_p = _ratio(correct.sum(), total_pred.sum())
    pick_r = _ratio(correct.sum(), total_true.sum())

    epi = dep = dt = float("nan")
    if tp and true_events is not None and pred_events is not None and len(pred_events):
        te = true_events.set_index("event").loc[pt]
        pe = pred_events.set_index("event_idx").loc[pp]
        epi = float(np.median(great_circle_km(te["latitude"].to_numpy(), te["longitude"].to_numpy(),
                                             pe["latitude"].to_numpy(), pe["longitude"].to_numpy())))
        dep = float(np.median(np.abs(te["depth_km"].to_numpy() - pe["depth_km"].to_numpy())))
        dt = float(np.median(np.abs(te["time"].to_numpy() - pe["time"].to_numpy())))
    def mean(a):
        return (float(a.mean()) if len(a) else 0.0)
    return AssociationScores(
        event_precision=precision, event_recall=recall, event_f1=_f1(precision, recall),
        n_true_events=n_true, n_pred_events=n_pred, n_matched=tp,
        pick_precision=pick_p, pick_recall=pick_r, pick_f1=_f1(pick_p, pick_r),
        missed_picks_per_event=mean(missed), false_picks_per_event=mean(false_),
        wrong_picks_per_event=mean(wrong), epicentral_error_km=epi, depth_error_km=dep,
        origin_time_error_s=dt,
    )
