"""``GraphDD``: double-difference relocation of a catalog by a graph network, or by lsqr."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..runtime import resolve_device
from .dtcc import read_dtcc
from .objective import Objective
from .output import relocated_catalog
from .problem import build_problem, catalog_picks
from .solvers import SolveResult, solve_graphdd, solve_lsqr
from .traveltimes import RelocationTravelTimes

__all__ = ["DEFAULT_ITERATIONS", "METHODS", "GraphDD", "RelocationReport", "parameter_docs"]

#: The relocation methods: the GraphDD network and the least-squares baseline.
METHODS = ("graphdd", "lsqr")
#: Outer iterations of each method when ``iterations`` is None. GraphDD, 500 events with the
#: same number of training steps (about 750): 8 x 60 steps 0.35 km median inter-event error,
#: 12 x 40 0.31 km, 16 x 30 0.30 km (synthetic cluster, homogeneous truth, seed 0); lsqr
#: changes its objective by less than 0.1 % after its fourth iteration.
DEFAULT_ITERATIONS = {"graphdd": 16, "lsqr": 8}


@dataclass
class RelocationReport:
    """What the last :meth:`GraphDD.relocate` did (``GraphDD.last_run``).

    Attributes
    ----------
    method : str
        ``"graphdd"`` or ``"lsqr"``.
    event_ids : list of str
        Resource ids of the catalog's events, in order.
    relocated : numpy.ndarray
        ``(N,)`` bool.
    reason : list of str
        Why each unrelocated event was left as it was ("" for relocated ones).
    xyz_before_km, xyz_after_km : numpy.ndarray
        ``(N, 3)`` x, y, depth (km) in the local frame, before and after.
    origin_shift_s : numpy.ndarray
        ``(N,)`` change of the origin times (s).
    projection
        The local frame (:class:`~seisbench_genie.geo.LocalProjection`).
    n_pairs, n_differential_times, n_cross_correlation : int
        Event pairs of the graph, catalog and cross-correlation differential times.
    history : list of dict
        Parts of the objective at the start and after each outer iteration.
    seconds : float
        Wall time of the relocation (s), the catalog copy included.
    station_corrections : pandas.DataFrame or None
        ``id``, ``p_term_s``, ``s_term_s`` when estimated (NonLinLoc sign: added to
        predictions).
    """

    method: str
    event_ids: list[str]
    relocated: np.ndarray
    reason: list[str]
    xyz_before_km: np.ndarray
    xyz_after_km: np.ndarray
    origin_shift_s: np.ndarray
    projection: Any
    n_pairs: int
    n_differential_times: int
    n_cross_correlation: int
    history: list[dict[str, float]]
    seconds: float
    station_corrections: pd.DataFrame | None = None


def _positive(name: str, value: Any, integer: bool = False, zero: bool = False) -> Any:
    """Check one parameter; return it as int or float."""
    try:
        v = int(value) if integer else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if integer and v != value:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if not math.isfinite(v) or v < 0 or (v == 0 and not zero):
        raise ValueError(f"{name}: must be {'>= 0' if zero else '> 0'} and finite, got {value!r}")
    return v


@dataclass
class GraphDD:
    """Double-difference relocation of a catalog with a graph neural network (GraphDD).

    Events are nodes of a graph of neighbours (each event's ``k_neighbors`` nearest within
    ``max_separation_km``, kept when the two share ``min_shared_stations`` stations); each
    pair's shared stations and phases give catalog differential times. A small PyTorch
    Geometric network (:mod:`~seisbench_genie.relocation.network`) maps the pick residuals of
    a sub-graph of events x stations to per-event perturbations of location and origin time;
    it is trained on the catalog itself to minimise robust (Huber) double-difference
    residuals (plus cross-correlation times when given) with weak anchors on the absolute
    residuals and on the mean shift of each cluster
    (:mod:`~seisbench_genie.relocation.objective`). ``method="lsqr"`` minimises the same
    objective by damped least squares (``scipy.sparse.linalg.lsqr``), the baseline.

    Every parameter is keyword-only, has a default and is checked on construction (a
    ``ValueError`` names it).

    Parameters
    ----------
    method
        ``"graphdd"`` (the network) or ``"lsqr"`` (the least-squares baseline).
    k_neighbors
        Neighbours per event in the event graph (HypoDD's ``MAXNGH`` is typically 10).
    max_separation_km
        Largest hypocentral separation (km) of a pair: double differences cancel path
        errors only between nearby events (HypoDD's ``MAXSEP``, typically 5-10 km).
    min_shared_stations
        Stations (any phase) a pair must share to be kept; an event without such a pair is
        left as it was and flagged. 4: the fewest that constrain a relative hypocentre and
        origin time.
    iterations
        Outer iterations: travel times and residuals are re-evaluated at the new positions
        after each. None: :data:`DEFAULT_ITERATIONS` of the method (16 for ``graphdd``,
        whose trained steps gain more from fresh residuals than from longer training at the
        same cost; 8 for ``lsqr``, which converges in about four).
    warmup_steps
        Adam steps on the network in the first outer iteration, where it starts untrained
        (``graphdd``).
    steps_per_iteration
        Adam steps on the network in each later outer iteration, where it starts from the
        weights of the one before (``graphdd``).
    learning_rate
        Adam learning rate (``graphdd``).
    hidden
        Width of the network's layers (``graphdd``).
    pair_layers
        Rounds of message passing between paired events (``graphdd``).
    refinements
        Refinement steps of the network: each re-reads the residuals linearised at the step
        so far and adds to it (``graphdd``; 1: a single pass).
    batch_events
        Seed events per training step: the relocatable events nearest a random one; the
        step uses the sub-graph within ``2 + pair_layers`` hops of them, so that the steps
        of the seeds and their partners are those the whole graph gives. A catalog with at
        most this many relocatable events trains on the whole graph, which is more accurate
        (500 events, 8 outer iterations: 0.35 km median inter-event error on the whole
        graph, 0.41 km with 200 seeds per step) and fits in memory up to several thousand events (``graphdd``).
    step_km
        Unit of the network's location output (km); its origin-time output is in units of
        ``step_km`` times the median P slowness (``graphdd``).
    max_step_km
        Longest move of an event in one outer iteration (km, both methods).
    residual_scale_s
        Residual scale (s) of the Huber terms: about the pick uncertainty.
    huber_delta
        Residuals beyond ``huber_delta * residual_scale_s`` count linearly (outliers).
    absolute_weight
        Weight of the absolute-residual anchor relative to the double differences.
    shift_weight
        Weight of the mean-shift anchor: the squared mean move (km^2) of each connected
        cluster.
    cc_weight
        Weight of the cross-correlation differential times relative to the catalog ones.
    station_corrections
        Estimate a P and an S correction per station (``graphdd``); they absorb station-wise
        absolute residuals (they cancel in differential times).
    correction_damping
        Weight of the squared station corrections (in residual scales).
    damping
        ``damp`` of ``scipy.sparse.linalg.lsqr`` on the column-normalised system
        (``lsqr``).
    device
        Torch device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or ``"auto"`` (a GPU when
        present, else the CPU).
    seed
        Seed of the network's initialisation and of the sub-graph sampling.
    progress
        Show a progress bar (tqdm).

    Attributes
    ----------
    last_run : RelocationReport or None
        What the last :meth:`relocate` did.

    Examples
    --------
    >>> GraphDD(method="lsqr", iterations=4).iterations
    4
    >>> GraphDD(k_neighbors=0)
    Traceback (most recent call last):
    ...
    ValueError: k_neighbors: must be > 0 and finite, got 0
    """

    method: str = "graphdd"
    k_neighbors: int = 10
    max_separation_km: float = 10.0
    min_shared_stations: int = 4
    iterations: int | None = None
    warmup_steps: int = 300
    steps_per_iteration: int = 30
    learning_rate: float = 1e-2
    hidden: int = 32
    pair_layers: int = 1
    refinements: int = 1
    batch_events: int = 4000
    step_km: float = 1.0
    max_step_km: float = 3.0
    residual_scale_s: float = 0.05
    huber_delta: float = 2.0
    absolute_weight: float = 0.05
    shift_weight: float = 1.0
    cc_weight: float = 1.0
    station_corrections: bool = False
    correction_damping: float = 1.0
    damping: float = 0.01
    device: str = "cpu"
    seed: int = 0
    progress: bool = True
    last_run: RelocationReport | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {list(METHODS)}, got {self.method!r}")
        if self.iterations is None:
            self.iterations = DEFAULT_ITERATIONS[self.method]
        for name in ("k_neighbors", "min_shared_stations", "iterations", "warmup_steps",
                     "steps_per_iteration",
                     "hidden", "refinements", "batch_events"):
            setattr(self, name, _positive(name, getattr(self, name), integer=True))
        self.pair_layers = _positive("pair_layers", self.pair_layers, integer=True, zero=True)
        self.seed = _positive("seed", self.seed, integer=True, zero=True)
        for name in ("max_separation_km", "learning_rate", "step_km", "max_step_km",
                     "residual_scale_s", "huber_delta"):
            setattr(self, name, _positive(name, getattr(self, name)))
        for name in ("absolute_weight", "shift_weight", "cc_weight", "correction_damping",
                     "damping"):
            setattr(self, name, _positive(name, getattr(self, name), zero=True))
        for name in ("station_corrections", "progress"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise ValueError(f"{name}: expected True or False, got {getattr(self, name)!r}")
        self.device = str(self._device())

    def _device(self) -> torch.device:
        return resolve_device(self.device)

    def relocate(self, catalog: Any, inventory: Any, velocity_model: Any = None,
                 differential_times: str | Path | pd.DataFrame | None = None, *,
                 inplace: bool = False) -> Any:
        """Relocate the events of ``catalog``.

        Parameters
        ----------
        catalog
            ObsPy :class:`~obspy.core.event.Catalog` whose events have an origin and picks
            (with arrivals on the preferred origin, or P/S ``phase_hint`` picks). Not
            modified unless ``inplace``.
        inventory
            The stations: an ObsPy Inventory or a DataFrame ``id`` (``NET.STA.LOC``),
            ``latitude``, ``longitude``, ``elevation`` (m).
        velocity_model
            A 1-D model (DataFrame of layer tops ``depth_km``, ``vp``, ``vs``; km and km/s),
            which becomes a ``layered`` table sized to the catalog, or a backend from
            :mod:`seisbench_genie.traveltimes` (``layered``, ``grid3d``, ...), used in its
            own frame.
        differential_times
            Waveform cross-correlation times: a HypoDD ``dt.cc`` file or its table
            (:func:`~seisbench_genie.relocation.read_dtcc`). Event ids are matched to the
            catalog's events by the number ending each event's resource id (GENIE catalogs
            end with the event index) when those are unique, else by the 0-based position in
            the catalog; a full resource id also matches. Stations are matched by station
            code (or full id).
        inplace
            Add the new origins to ``catalog``'s own events instead of a copy. ObsPy's deep
            copy of a catalog takes about 30 ms per event of 40 picks on one CPU core, more
            than the relocation itself.

        Returns
        -------
        obspy.core.event.Catalog
            A copy of ``catalog`` (``catalog`` itself when ``inplace``). Each relocated event has a new preferred origin
            (``method_id`` ``smi:seisbench_genie/method/GraphDD`` or ``.../GraphDD-lsqr``)
            beside its input origins; each event left as it was (no pair with enough shared
            stations, or no pick at a known station) has a comment
            ``"GraphDD: not relocated: <reason>"`` on its preferred origin.
            :attr:`last_run` holds the details.

        Raises
        ------
        ValueError
            When the catalog has no events or no P/S picks or arrivals, no pick is at a
            station of the inventory, the velocity model is missing or invalid, or it does
            not cover the events (the message names the model and the events).

        Examples
        --------
        >>> from seisbench_genie.relocation import GraphDD
        >>> relocated = GraphDD().relocate(catalog, inventory, layers)  # doctest: +SKIP
        >>> str(relocated[0].preferred_origin().method_id)  # doctest: +SKIP
        'smi:seisbench_genie/method/GraphDD'
        """
        start = time.perf_counter()
        if isinstance(differential_times, str | Path):
            differential_times = read_dtcc(differential_times)
        cat = catalog_picks(catalog)
        problem = build_problem(cat, inventory, velocity_model, self.k_neighbors,
                                self.max_separation_km, self.min_shared_stations,
                                differential_times)
        device = torch.device(self.device)
        bound = problem.backend.bind(problem.stations, projection=problem.projection)
        tt = RelocationTravelTimes(bound)
        if device.type != "cpu":
            tt = tt.to(device)
        objective = Objective(
            problem, tt, residual_scale_s=self.residual_scale_s, huber_delta=self.huber_delta,
            absolute_weight=self.absolute_weight, cc_weight=self.cc_weight,
            shift_weight=self.shift_weight, correction_damping=self.correction_damping,
            device=device)
        if not problem.relocatable.any():
            result = SolveResult(problem.xyz_km.copy(), np.zeros(problem.n_events), None, [],
                                 np.zeros(len(problem.pick_event)), np.zeros(0))
        elif self.method == "lsqr":
            result = solve_lsqr(problem, objective, iterations=self.iterations,
                                damping=self.damping, max_step_km=self.max_step_km,
                                progress=self.progress)
        else:
            result = solve_graphdd(
                problem, objective, iterations=self.iterations,
                warmup_steps=self.warmup_steps, steps_per_iteration=self.steps_per_iteration,
                learning_rate=self.learning_rate, hidden=self.hidden,
                pair_layers=self.pair_layers, refinements=self.refinements,
                batch_events=self.batch_events,
                step_km=self.step_km, max_step_km=self.max_step_km,
                max_separation_km=self.max_separation_km,
                station_corrections=self.station_corrections, seed=self.seed,
                progress=self.progress)
        out = relocated_catalog(catalog, problem, result, self.method, copy=not inplace)
        corrections = None
        if result.corrections_s is not None:
            corrections = pd.DataFrame({"id": problem.stations["id"],
                                        "p_term_s": result.corrections_s[:, 0],
                                        "s_term_s": result.corrections_s[:, 1]})
        self.last_run = RelocationReport(
            method=self.method, event_ids=cat.event_ids, relocated=problem.relocatable.copy(),
            reason=list(problem.reason), xyz_before_km=problem.xyz_km.copy(),
            xyz_after_km=result.xyz_km, origin_shift_s=result.tau_s,
            projection=problem.projection, n_pairs=len(problem.pairs),
            n_differential_times=len(problem.dd_a),
            n_cross_correlation=len(problem.cc_event_a), history=result.history,
            seconds=time.perf_counter() - start, station_corrections=corrections)
        return out


def parameter_docs() -> dict[str, str]:
    """The documentation of each :class:`GraphDD` parameter, one line each (from its
    docstring; the command line's help).

    Examples
    --------
    >>> parameter_docs()["k_neighbors"].split(" (")[0]
    'Neighbours per event in the event graph'
    """
    text = GraphDD.__doc__ or ""
    section = text.split("Parameters\n    ----------\n", 1)[1].split("\n    Attributes", 1)[0]
    docs: dict[str, list[str]] = {}
    names: list[str] = []
    for line in section.splitlines():  # docstring lines, not data
        if line.startswith("    ") and not line.startswith("        ") and line.strip():
            names = [n.strip() for n in line.split(",")]
            for n in names:
                docs[n] = []
        elif line.strip() and names:
            for n in names:
                docs[n].append(line.strip())
    return {k: " ".join(v) for k, v in docs.items()}

