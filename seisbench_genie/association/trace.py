"""An optional record of the association's intermediate results, for diagnostics.

The pipeline hands the inputs and the links of its stages to :func:`record`. Nothing is kept
unless a :func:`recording` block is active. The block is held in a context variable, so
other threads and calls outside the block record nothing and pay nothing. A run that
associates more than once (``station_terms="auto"``, or the automatic second detection grid)
leaves the stages of its last association; its later rounds on leftover picks
(``rounds``) record nothing (:func:`paused`), so the record is the first round's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: The link tables recorded, in pipeline order (``docs/architecture.md``, "Inference"):
#: the first and second association passes (steps 5 and 8), the competitive assignment (9),
#: the duplicate merge (10) and the fit check (11).
LINK_STAGES = ("first_pass", "second_pass", "assignment", "merge", "fit_check")


@dataclass
class StageTrace:
    """What one association run passed through its stages.

    Attributes
    ----------
    picks : seisbench_genie.association.inputs.PickSet or None
        The run's picks; the ``pick`` column of every link table indexes them.
    grid : seisbench_genie.association.inputs.NodeGrid or None
        The first (unshifted) node grid, with the travel-time backend bound to the stations
        (``grid.bound.projection`` converts latitude and longitude to its km frame).
    candidates : list of seisbench_genie.association.candidates.GridCandidates
        The detections of each node grid (steps 1-4).
    links : dict of str to pandas.DataFrame
        The links after each stage of :data:`LINK_STAGES` reached (``source``, ``pick``,
        ``station``, ``phase``, ...).
    """

    picks: Any = None
    grid: Any = None
    candidates: list = field(default_factory=list)
    links: dict[str, pd.DataFrame] = field(default_factory=dict)


_active: ContextVar[StageTrace | None] = ContextVar("seisbench_genie_stage_trace",
                                                     default=None)


@contextmanager
def recording() -> Iterator[StageTrace]:
    """Record the stages of the associations run inside the block.

    Examples
    --------
    >>> with recording() as trace:
    ...     pass  # model.classify(picks, stations) here
    >>> trace.links
    {}
    """
    trace = StageTrace()
    token = _active.set(trace)
    try:
        yield trace
    finally:
        _active.reset(token)


@contextmanager
def paused() -> Iterator[None]:
    """Record nothing inside the block, even within a :func:`recording` block.

    Examples
    --------
    >>> with recording() as trace:
    ...     with paused():
    ...         record(first_pass=pd.DataFrame())
    >>> trace.links
    {}
    """
    token = _active.set(None)
    try:
        yield
    finally:
        _active.reset(token)


def record(**items: Any) -> None:
    """Keep ``picks``, ``grid``, ``candidates`` or a link table of :data:`LINK_STAGES`, when a
    :func:`recording` block is active (otherwise nothing happens). Recording ``candidates``
    starts a new association: the link tables of an earlier one are dropped.

    Examples
    --------
    >>> record(first_pass=pd.DataFrame())  # no block: ignored
    >>> with recording() as trace:
    ...     record(first_pass=pd.DataFrame({"source": [0], "pick": [3]}))
    >>> list(trace.links)
    ['first_pass']
    """
    trace = _active.get()
    if trace is None:
        return
    if "candidates" in items:  # a new association: no stage of an earlier one stays
        trace.links.clear()
    for name, value in items.items():
        if name in ("picks", "grid", "candidates"):
            setattr(trace, name, value)
        elif name in LINK_STAGES:
            trace.links[name] = value
        else:
            raise ValueError(f"record: unknown stage {name!r}; expected picks, grid, "
                             f"candidates or one of {LINK_STAGES}")
