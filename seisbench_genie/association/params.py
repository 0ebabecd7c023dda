"""The parameters of an association: the search region and one validated parameter set.

:class:`AssociationParams` is the single place where every tunable of
:meth:`seisbench_genie.GENIE.classify` has its default, its documentation (field metadata,
rendered into the docstrings by :func:`parameter_docs`) and its validation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class Region:
    """Search volume in the local frame (km): x, y ranges and depth range (positive down).

    Examples
    --------
    >>> Region((-10.0, 10.0), (-5.0, 5.0), (0.0, 30.0)).bounds()[2]
    (0.0, 30.0)
    """

    x_km: tuple[float, float]
    y_km: tuple[float, float]
    depth_km: tuple[float, float]

    def bounds(self) -> tuple[tuple[float, float], ...]:
        """The three (low, high) ranges: x, y, depth (km)."""
        return (self.x_km, self.y_km, self.depth_km)

    def location_bounds(self, pad_km: float) -> tuple[tuple[float, float], ...]:
        """Bounds of a location: the region +- ``pad_km`` horizontally, depth >= 0 (km).

        Examples
        --------
        >>> Region((-10.0, 10.0), (-5.0, 5.0), (0.0, 30.0)).location_bounds(2.0)[0]
        (-12.0, 12.0)
        """
        return ((self.x_km[0] - pad_km, self.x_km[1] + pad_km),
                (self.y_km[0] - pad_km, self.y_km[1] + pad_km),
                (max(0.0, self.depth_km[0]), self.depth_km[1]))

    def holds_epicentres(self, x_km: Any, y_km: Any, pad_km: float) -> Any:
        """Whether each epicentre (local km) lies inside the region +- ``pad_km``
        horizontally (boolean array).

        Examples
        --------
        >>> Region((-10.0, 10.0), (-5.0, 5.0), (0.0, 30.0)).holds_epicentres(
        ...     [0.0, 12.0, 13.0], [0.0, 7.0, 0.0], 2.0).tolist()
        [True, True, False]
        """
        import numpy as np

        x, y = np.asarray(x_km, dtype=float), np.asarray(y_km, dtype=float)
        return ((x >= self.x_km[0] - pad_km) & (x <= self.x_km[1] + pad_km)
                & (y >= self.y_km[0] - pad_km) & (y <= self.y_km[1] + pad_km))


def _doc(text: str) -> dict[str, str]:
    return {"doc": " ".join(text.split())}


@dataclass(frozen=True)
class AssociationParams:
    """Parameters of one association run; every field is a keyword argument of
    :meth:`seisbench_genie.GENIE.classify` with the same default.

    Values are checked and normalised on construction (a ``ValueError`` names the argument).
    Each field's meaning is in its ``metadata["doc"]``; :func:`parameter_docs` renders them.

    Examples
    --------
    >>> AssociationParams(min_picks=8).min_picks
    8
    >>> AssociationParams(detection_grids=2.0).detection_grids
    2
    >>> AssociationParams(association_threshold=1.5)
    Traceback (most recent call last):
    ...
    ValueError: association_threshold: must be in (0, 1), got 1.5
    """

    detection_threshold: float = field(default=0.3, metadata={"from_weights": True, **_doc("""
        Minimum source likelihood (0-1) of a detection. Trained weights carry their own
        calibrated value, chosen on held-out synthetic days (crustal v4: 0.3, subduction v3:
        0.4; see ``training.validation.calibrate_thresholds``), used when the argument is
        omitted; 0.3 for weights without one. Lower finds more small events and more false
        ones.""")})
    association_threshold: float = field(default=0.3, metadata=_doc("""
        Minimum P or S association probability (0-1) of a pick."""))
    min_picks: int = field(default=10, metadata=_doc("""
        Minimum associated picks per event."""))
    min_p_and_s_stations: int = field(default=4, metadata=_doc("""
        Minimum stations with both a P and an S pick per event (PyOcto's
        ``n_p_and_s_picks`` in the Puente et al. benchmark settings); 0 switches it off.
        The network is evaluated only in windows where 70 % of that many stations
        back-project both a P and an S pick to one node."""))
    require_fit: bool = field(default=True, metadata=_doc("""
        Check each event's picks against a hypocentre located from them. The tolerance is the
        association tolerance (0.5 s + 2 % of the P travel time, x 1.7 for S) widened to the
        input's own residual level, so that a velocity model off by several percent keeps
        its events. Where chance coincidences of the picks that no event explains could
        make up ``min_picks`` (days with many false picks), ``min_picks`` and
        ``min_p_and_s_stations`` count fitting picks only; elsewhere an event needs 4 more
        fitting picks than chance would give. False skips the check."""))
    verify_candidates: bool = field(default=False, metadata=_doc("""
        Evaluate the network once more on a node lattice centred on each relocated
        candidate; candidates down to 0.75 x ``detection_threshold`` are kept when that
        field reaches the threshold, and its embeddings feed the association. More events on
        very dense days with an accurate velocity model, fewer true ones when the travel
        times are off (``docs/benchmarks.md``)."""))
    detection_grids: int | None = field(default=None, metadata=_doc("""
        Node grids the source field is evaluated on; grid k is shifted by
        k / ``detection_grids`` of the node spacing along x and y, and the later grids only
        look at windows where the first one saw activity. A second grid finds events between
        the first grid's nodes that other events' picks hide on days crowded with events,
        and more false events on days made mostly of false picks, at up to twice the time.
        None: one grid, and a second one when the first grid's events hold on average 0.15
        picks or more per station within the model's kernel width of a given time; 1 or 2
        force the choice."""))
    rounds: int = field(default=2, metadata=_doc("""
        Rounds of the whole association. Each round after the first runs on the picks that
        no event found so far holds; its events need 4 more fitting picks than chance
        coincidences of those picks would give, and an event with half of its picks at an
        earlier event's arrivals (a piece of it) is dropped. It finds events that other
        events' arrivals hid from the network: on synthetic days crowded with small events,
        up to 0.10 more of the 10-15-pick events at the same precision (``docs/benchmarks.md``).
        At the model's node spacing it costs up to about 30 % more time where the leftover
        picks are many (dense networks, crowded days), nothing measurable elsewhere; on a
        finer grid (``later_round_spacing``) up to about 70 %; 1: one round."""))
    later_round_spacing: float | None = field(default=None, metadata=_doc("""
        Node spacing of the rounds after the first, as a fraction of the model's
        ``node_spacing_km`` (the depth levels stay the model's). What the first round leaves
        is mostly small events seen by the few stations nearest to them, which a node
        farther away than those stations misses where the stations are closer together than
        the nodes; the later rounds' stricter fit check and piece removal keep the finer
        grid's extra false events out. None: from the stations with picks, their median
        distance to the nearest station at another site over the model's node spacing,
        between 0.5 and 1
        (:func:`~seisbench_genie.association.rounds.later_round_spacing_factor`); on a
        network as sparse as the nodes, 1 (the model's spacing in every round). See
        ``docs/benchmarks.md`` ("A finer node grid in the later rounds") for what it gains
        and costs."""))
    edge_tolerance_km: float | None = field(default=None, metadata=_doc("""
        Events located more than this far (km) outside the search region (``region``)
        horizontally are not reported; their picks stay unassociated. Such events are
        mostly pieces of events outside the region, whose picks fit a location beyond its
        edge; an event inside the region near its edge is located up to a few km outside.
        None: half the model's margin around the stations (crustal 10 km, subduction
        25 km; on synthetic days with events inside and outside the network, this kept the
        recall within 0.003 of reporting every event and raised the precision by 0.004 to
        0.026, ``docs/benchmarks.md``). A large value reports every event the association
        locates (up to one node spacing outside the region)."""))
    batch_size: int | None = field(default=None, metadata=_doc("""
        Windows per network call. None: from the size of the product graph (on a CPU,
        batches of about 32k station-source pairs keep the network's arrays in cache, about
        twice as fast as larger ones; on a GPU, about 2M pairs, 64 to 4,096 windows)."""))
    detection_chunk_s: float = field(default=21600.0, metadata=_doc("""
        The source field is computed in chunks of this many seconds of windows (bounded
        memory for long inputs; the result does not depend on it)."""))
    chunk_s: float = field(default=600.0, metadata=_doc("""
        Candidate sources are associated in blocks of this many seconds of origin time
        (bounds the memory of the source x pick matrix; the result does not depend on
        it)."""))
    progress: bool = field(default=False, metadata=_doc("""
        Show one progress bar over the windows of the run (windows done / total, ETA)."""))
    station_term_iterations: int = field(default=2, metadata=_doc("""
        With ``station_terms="auto"``: most updates of the estimated station delays, each
        followed by a new association (so at most 1 + this many association runs); fewer
        when no delay changes by 0.02 s or more. Two updates brought delays of -0.7 to +1.0 s
        injected at 10 stations to within 0.13 s on synthetic crustal hours of 20 events and
        0.19 s on 6-hour days of 100 events; four did not do better."""))

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # normalise in place (frozen dataclass)
        for name in ("detection_threshold", "association_threshold"):
            value = _number(getattr(self, name), name)
            if not 0 < value < 1:
                raise ValueError(f"{name}: must be in (0, 1), got {value}")
            set_(self, name, value)
        set_(self, "min_picks", _whole(self.min_picks, "min_picks", minimum=1))
        set_(self, "min_p_and_s_stations",
             _whole(self.min_p_and_s_stations, "min_p_and_s_stations", minimum=0))
        set_(self, "station_term_iterations",
             _whole(self.station_term_iterations, "station_term_iterations", minimum=1))
        set_(self, "rounds", _whole(self.rounds, "rounds", minimum=1))
        if self.later_round_spacing is not None:
            spacing = _number(self.later_round_spacing, "later_round_spacing")
            if not 0 < spacing <= 1:
                raise ValueError(f"later_round_spacing: must be None or in (0, 1], got "
                                 f"{spacing}")
            set_(self, "later_round_spacing", spacing)
        if self.edge_tolerance_km is not None:
            tolerance = _number(self.edge_tolerance_km, "edge_tolerance_km")
            if tolerance < 0:
                raise ValueError(f"edge_tolerance_km: must be None or >= 0 km, got "
                                 f"{tolerance}")
            set_(self, "edge_tolerance_km", tolerance)
        for name in ("detection_grids", "batch_size"):
            value = getattr(self, name)
            set_(self, name, None if value is None else _whole(value, name, minimum=1))
        for name in ("detection_chunk_s", "chunk_s"):
            value = _number(getattr(self, name), name)
            if not value > 0:
                raise ValueError(f"{name}: must be > 0 s, got {value}")
            set_(self, name, value)
        for name in ("require_fit", "verify_candidates", "progress"):
            value = getattr(self, name)
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise ValueError(f"{name}: must be True or False, got {value!r}")
            set_(self, name, bool(value))


def parameter_docs(indent: int = 8) -> str:
    """The numpydoc ``Parameters`` entries of :class:`AssociationParams` (name, type,
    default and meaning), indented by ``indent`` spaces.

    Examples
    --------
    >>> print(parameter_docs(0).splitlines()[0])
    detection_threshold : float, optional (the weights' value, else 0.3)
    """
    import textwrap

    pad = " " * indent
    lines = []
    for f in fields(AssociationParams):
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        default = ("optional (the weights' value, else " + repr(f.default) + ")"
                   if f.metadata.get("from_weights") else f"default {f.default!r}")
        lines.append(f"{pad}{f.name} : {kind}, {default}")
        lines.extend(textwrap.wrap(f.metadata["doc"], width=92 - indent,
                                   initial_indent=pad + "    ", subsequent_indent=pad + "    "))
    return "\n".join(lines)


def _number(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return number


def _whole(value: Any, name: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum``; a ValueError naming ``name`` for a fraction, a
    non-number or a value below ``minimum``.

    Examples
    --------
    >>> _whole(2.0, "detection_grids", 1)
    2
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or not number.is_integer():
        raise ValueError(f"{name}: must be a whole number, got {value!r}")
    if number < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value!r}")
    return int(number)
