"""The :class:`GENIE` model: SeisBench picks in, ObsPy Catalog out."""

from __future__ import annotations

import inspect
import json
import os
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seisbench.util
import torch
from obspy.core.event import Catalog

import seisbench_genie
from seisbench_genie.association import AssociationParams, associate_table, parameter_docs
from seisbench_genie.association.params import _whole
from seisbench_genie.association.station_terms import AUTO, self_calibrate
from seisbench_genie.catalog import build_catalog
from seisbench_genie.frame import search_frame
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.nn.network import GENIENetwork
from seisbench_genie.picks import (
    match_stations,
    pick_table,
    pick_time_uncertainties,
    set_aside_stray_picks,
    station_positions,
)
from seisbench_genie.pretrained import PoochPretrainedModel, file_sha256
from seisbench_genie.runtime import resolve_device
from seisbench_genie.runtime import tune_malloc as _tune_malloc
from seisbench_genie.schema import ASSIGNMENT_COLUMNS, EVENT_COLUMNS, empty_table
from seisbench_genie.stations import station_table

WEIGHT_FORMAT = "seisbench_genie.GENIE/1"
CITATION = (
    "McBrearty, I. W., & Beroza, G. C. (2023). Earthquake phase association with graph neural "
    "networks. Bulletin of the Seismological Society of America, 113(2), 524-547. "
    "Implementation: seisbench-genie."
)
#: The defaults of every association parameter (one validated dataclass).
_DEFAULTS = AssociationParams()


class GENIE(PoochPretrainedModel):
    """GENIE phase associator and locator (McBrearty & Beroza 2023) as a SeisBench model.

    Parameters
    ----------
    scale
        :class:`~seisbench_genie.nn.ModelScale` (or its dict) fixing the model's lengths and
        times; recorded in the weight metadata.
    hidden
        Hidden width of the network.
    velocity_model_type
        Kind of travel-time backend the weights expect (``"layered"``).
    default_args
        Defaults for :meth:`classify` keyword arguments (e.g. ``velocity_model`` as a dict of
        columns), stored with the weights.

    Examples
    --------
    >>> model = GENIE.from_pretrained("crustal")  # doctest: +SKIP
    >>> catalog = model.associate(picks, inventory)  # doctest: +SKIP
    >>> out = model.classify(picks, inventory)  # doctest: +SKIP
    >>> out.catalog, out.events, out.assignments  # doctest: +SKIP
    """

    _weights_name = "GENIE"
    #: ``{argument: (description, default)}`` of :meth:`classify`, as SeisBench models
    #: declare them; derived from its signature and docstring below the class.
    _annotate_args: dict[str, tuple[str, Any]] = {}

    def __init__(self, scale: ModelScale | dict | None = None, hidden: int = 24,
                 velocity_model_type: str = "layered", default_args: dict | None = None,
                 signed_residuals: bool = False, **kwargs: Any):
        super().__init__(citation=CITATION, **kwargs)
        if scale is None:
            raise ValueError("scale: a GENIE model needs a ModelScale (or use "
                             "GENIE.from_pretrained / GENIE.load)")
        self.scale = ModelScale.from_dict(scale) if isinstance(scale, dict) else scale
        self.hidden = int(hidden)
        self.velocity_model_type = velocity_model_type
        self.network = GENIENetwork(self.scale, hidden=self.hidden,
                                    signed_residuals=signed_residuals)
        self.default_args = dict(default_args or {})

    def get_model_args(self) -> dict:
        return {"scale": self.scale.to_dict(), "hidden": self.hidden,
                "velocity_model_type": self.velocity_model_type,
                "signed_residuals": self.network.signed_residuals}

    # ------------------------------------------------------------------ weights
    def save(self, path: str | Path, weights_docstring: str = "", version_str: str | None = None,
             training: dict | None = None, validation: dict | None = None) -> None:
        """Write ``<path>.pt[.v<N>]`` (state dict) and ``<path>.json[.v<N>]`` (metadata with
        the model's scale, depth range, expected velocity-model type, code version, the
        sha256 of the ``.pt`` file (checked by :meth:`load`), and the training config and
        validation scores when given). The metadata is written to a temporary name, then
        renamed.

        Examples
        --------
        >>> model.save("runs/mine/crustal", version_str="1")  # doctest: +SKIP
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.cpu()
        own_args, self.default_args = self.default_args, _jsonable(self.default_args)
        try:  # SeisBench writes default_args as JSON: DataFrames go in as dicts of columns
            super().save(path, weights_docstring=weights_docstring, version_str=version_str)
        finally:
            self.default_args = own_args
        json_path, pt_path = self._get_weights_file_paths(path, version_str)
        meta = json.loads(Path(json_path).read_text())
        meta.update({
            "format": WEIGHT_FORMAT, "version": version_str or "1",
            "seisbench_requirement": "0.11.5",
            "seisbench_genie_version": seisbench_genie.__version__,
            "scale": self.scale.to_dict(), "depth_km": list(self.scale.depth_km),
            "velocity_model_type": self.velocity_model_type,
            "n_parameters": sum(p.numel() for p in self.parameters()),
            "weights_sha256": file_sha256(pt_path),
        })
        meta["default_args"] = _jsonable(self.default_args)
        if training is not None:
            meta["training"] = _jsonable(training)
        if validation is not None:
            meta["validation"] = _jsonable(validation)
        tmp = Path(f"{json_path}.tmp")
        tmp.write_text(json.dumps(meta, indent=2))
        os.replace(tmp, json_path)

    @classmethod
    def load(cls, path: str | Path, version_str: str | None = None, **kwargs: Any) -> GENIE:
        """Load weights written by :meth:`save`; files of another format or made for another
        model scale, a ``.pt`` file that cannot be read (truncated, corrupt), or one whose
        sha256 differs from the one :meth:`save` recorded raise a ``ValueError`` naming the
        problem and the file. (Weights from :meth:`from_pretrained` are checked against the
        package's registry instead.)

        Examples
        --------
        >>> GENIE.load("runs/mine/crustal", version_str="1")  # doctest: +SKIP
        """
        json_path, pt_path = cls._get_weights_file_paths(Path(path), version_str)
        if not Path(json_path).is_file() or not Path(pt_path).is_file():
            raise ValueError(f"path: no GENIE weights at {json_path} / {pt_path}")
        try:
            meta = json.loads(Path(json_path).read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{json_path}: not a JSON weight description ({err})") from err
        if meta.get("format") != WEIGHT_FORMAT:
            raise ValueError(f"{json_path}: unknown weight format {meta.get('format')!r}; "
                             f"expected {WEIGHT_FORMAT!r} (written by GENIE.save)")
        try:
            model = super().load(path, version_str=version_str, **kwargs)
        except (OSError, EOFError, UnicodeDecodeError, pickle.UnpicklingError) as err:
            raise ValueError(f"{pt_path}: cannot be read as PyTorch weights (truncated or "
                             f"corrupt file?): {type(err).__name__} {err}") from err
        except RuntimeError as err:  # state-dict shape/key mismatch, or not a weight archive
            if "state_dict" not in str(err):
                raise ValueError(
                    f"{pt_path}: cannot be read as PyTorch weights (truncated or corrupt "
                    f"file?): {str(err).splitlines()[0]}") from err
            raise ValueError(
                f"{pt_path}: weights do not fit the model described in {json_path} (scale "
                f"{meta.get('scale', {}).get('name')!r}, hidden {meta.get('model_args', {}).get('hidden')}, signed residuals "
                f"{meta.get('model_args', {}).get('signed_residuals', False)}); "
                f"were they made for another model? ({str(err).splitlines()[0]})") from err
        expected = meta.get("weights_sha256")  # absent in files saved before it was recorded
        actual = file_sha256(pt_path)
        if expected is not None and actual != expected:
            raise ValueError(
                f"{pt_path}: sha256 {actual} differs from {expected}, recorded in {json_path} "
                f"when the weights were saved: the file was changed or replaced since")
        return model

    # ------------------------------------------------------------------ inference
    def classify(
        self,
        picks: Any,
        inventory: Any,
        *,
        velocity_model: Any = None,
        region: dict | None = None,
        station_terms: pd.DataFrame | str | None = None,
        detection_threshold: float | None = None,
        association_threshold: float = _DEFAULTS.association_threshold,
        min_picks: int = _DEFAULTS.min_picks,
        min_p_and_s_stations: int = _DEFAULTS.min_p_and_s_stations,
        require_fit: bool = _DEFAULTS.require_fit,
        verify_candidates: bool = _DEFAULTS.verify_candidates,
        detection_grids: int | None = _DEFAULTS.detection_grids,
        rounds: int = _DEFAULTS.rounds,
        later_round_spacing: float | None = _DEFAULTS.later_round_spacing,
        edge_tolerance_km: float | None = _DEFAULTS.edge_tolerance_km,
        batch_size: int | None = _DEFAULTS.batch_size,
        detection_chunk_s: float = _DEFAULTS.detection_chunk_s,
        chunk_s: float = _DEFAULTS.chunk_s,
        progress: bool = _DEFAULTS.progress,
        station_term_iterations: int = _DEFAULTS.station_term_iterations,
        device: str | torch.device | None = None,
        num_threads: int = 1,
        tune_malloc: bool = True,
    ) -> AssociationOutput:
        """Associate and locate picks.

        Parameters
        ----------
        picks
            SeisBench ``PickList`` / list of ``Pick``, or a DataFrame with ``station``,
            ``phase``, ``time`` (UTCDateTime, datetime64 or POSIX s) and optional
            ``probability``. P/S variants (p, Pg, Pn, s, Sg, Sn) are mapped; other labels are
            ignored with one warning. Picks at times outside 1900-2200 UTC, or in a group of
            fewer than ``min_picks`` picks more than a day from every other pick, are set
            aside with one warning naming them (:func:`seisbench_genie.picks.stray_picks`);
            docs/reliability.md lists what each kind of bad input does.
        inventory
            ObsPy Inventory or DataFrame ``id``, ``latitude``, ``longitude``, ``elevation``
            (m); ids "NET.STA.LOC" with an empty-location fallback.
        velocity_model : DataFrame, dict or TravelTimeBackend, optional
            A 1-D model (layer tops ``depth_km``, ``vp``, ``vs`` in km and km/s) or a
            travel-time backend from :mod:`seisbench_genie.traveltimes` (for example a
            ``grid3d`` 3-D model: the association then runs in the grid's own frame).
            Default: the 1-D model the weights were trained around.
        region : dict, optional
            Search volume: ``latitude`` and ``longitude`` ranges (degrees) and/or a
            ``depth_km`` range (km). Default: the stations with picks +- the model's margin
            (crustal 20 km, subduction 50 km) and the model's depth range, inside what the
            travel-time backend covers. Without the latitude and longitude ranges,
            ``margin_km`` (km) widens the stations' box by that much instead, for example
            ``{"margin_km": 40.0}`` to catalog events around the network too.
        station_terms : DataFrame or "auto", optional
            Station delays (s) added to the predicted arrivals: a DataFrame ``id``,
            ``p_term_s``, ``s_term_s`` (missing stations get 0), or ``"auto"`` to estimate
            them from the picks. With ``"auto"``, GENIE associates once, takes per station
            and phase the median residual of the picks of the well-constrained events (at
            least 2 x ``min_picks`` picks or the better-recorded half, and an rms at most
            twice the median event's), relocates these events with the terms and repeats
            until the terms settle, removes the P terms' network mean from the P and S terms
            (a delay common to all arrivals is an origin-time shift; the mean S-P offset is
            kept), and associates again with these terms, up to ``station_term_iterations``
            times (:mod:`seisbench_genie.association.station_terms`). Stations with fewer
            than 5 such residuals of a phase keep 0, and one warning names them. The terms
            used are the output's ``station_terms``. Default: no terms.
{association_parameters}
        device : str or torch.device, optional
            Device of the network: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (the GPU
            when one is present). Default: the model's (the CPU unless moved).
        num_threads : int, default 1
            CPU threads of the association (torch intra-op threads, restored afterwards). The
            network's operations are small: on a 2-core machine two threads were no faster
            when idle, and up to 25 times slower while another process kept a core busy.
        tune_malloc : bool, default True
            On Linux with glibc, raise malloc's mmap and trim thresholds to 32 / 256 MB for
            this process, so the network's per-batch arrays reuse freed memory instead of
            fresh pages the kernel must zero (about a third less time on the benchmark days;
            the process may keep up to 256 MB of freed memory; see
            :func:`seisbench_genie.runtime.tune_malloc`).

        Returns
        -------
        AssociationOutput
            A ``seisbench.util.ClassifyOutput`` with ``catalog`` (ObsPy Catalog, built from
            the two tables on first access: a 2000-event day takes a few seconds), ``events``
            (:data:`~seisbench_genie.schema.EVENT_COLUMNS`: event_idx, time (POSIX s),
            latitude, longitude, depth_km, horizontal/depth uncertainty (km), time
            uncertainty (s), n_picks, n_stations, score, rms_s) and ``assignments``
            (:data:`~seisbench_genie.schema.ASSIGNMENT_COLUMNS`: pick_idx = position in the
            input, event_idx, phase, probability, residual_s) and ``station_terms`` (the
            terms used: None without, the given DataFrame, or with ``"auto"`` the estimated
            ``id``, ``p_term_s``, ``s_term_s`` (s) and the residual counts ``n_p``, ``n_s``).

        Raises
        ------
        ValueError
            Naming the argument, for a value out of range or of the wrong kind.

        Examples
        --------
        >>> out = model.classify(picks, inventory, velocity_model=model_df)  # doctest: +SKIP
        >>> out.events[["time", "latitude", "longitude", "depth_km"]]  # doctest: +SKIP
        """
        if detection_threshold is None:
            detection_threshold = self.default_args.get("detection_threshold",
                                                        _DEFAULTS.detection_threshold)
        params = AssociationParams(
            detection_threshold=detection_threshold,
            association_threshold=association_threshold, min_picks=min_picks,
            min_p_and_s_stations=min_p_and_s_stations, require_fit=require_fit,
            verify_candidates=verify_candidates, detection_grids=detection_grids,
            rounds=rounds, later_round_spacing=later_round_spacing,
            edge_tolerance_km=edge_tolerance_km, batch_size=batch_size,
            detection_chunk_s=detection_chunk_s, chunk_s=chunk_s, progress=progress,
            station_term_iterations=station_term_iterations)
        auto_terms = isinstance(station_terms, str)
        if auto_terms and station_terms != AUTO:
            raise ValueError(f"station_terms: must be a DataFrame, None or {AUTO!r}, got "
                             f"{station_terms!r}")
        given_terms = None if auto_terms else station_terms
        num_threads = _whole(num_threads, "num_threads", minimum=1)
        if velocity_model is None:
            velocity_model = self.default_args.get("velocity_model")
        stations = station_table(inventory, "inventory")
        if isinstance(picks, Iterator):  # read twice: the picks, then their uncertainties
            picks = list(picks)
        table = pick_table(picks)
        # Per-pick time uncertainty (s, NaN: per-phase default) for the Catalog's picks.
        table = table.assign(time_uncertainty_s=pick_time_uncertainties(picks)[
            table["pick_idx"].to_numpy()] if len(table) else np.zeros(0))
        if len(table) and (station_positions(table["station"], stations) < 0).all():
            ids = pd.unique(table["station"].to_numpy(dtype=object))
            raise ValueError(
                f"inventory: none of the {len(ids)} station id(s) of the picks "
                f"({[str(i) for i in ids[:5]]}) is in the inventory "
                f"({stations['id'].head(5).tolist() if len(stations) else 'no stations'}); ids "
                f"are matched as NET.STA.LOC (NET.STA matches NET.STA.)")
        table = match_stations(table, stations) if len(table) else table
        # Picks at implausible times or isolated by more than a day: warned, not associated
        # (they would stretch the window grid over the whole gap).
        table = set_aside_stray_picks(table, params.min_picks)
        if len(table) == 0:
            return AssociationOutput(self.name, events=empty_table(EVENT_COLUMNS),
                                     assignments=empty_table(ASSIGNMENT_COLUMNS),
                                     station_terms=given_terms)
        used = np.unique(table["station_index"].to_numpy())
        sub = stations.iloc[used].reset_index(drop=True)
        remap = np.full(len(stations), -1)
        remap[used] = np.arange(len(used))
        table = table.assign(station_index=remap[table["station_index"].to_numpy()])
        frame = search_frame(sub, velocity_model, region, self.scale)

        def bind(terms: pd.DataFrame | None) -> Any:
            return frame.backend.bind(sub, projection=frame.projection, station_terms=terms)

        def run(bound: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # torch sparse "beta" notices
                return associate_table(self.network, bound, frame.region, table, params)

        if device is not None:
            self.to(resolve_device(device))
        if tune_malloc:
            _tune_malloc()
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(num_threads)
        try:
            if auto_terms:
                events, assignments, given_terms = self_calibrate(
                    run, bind, table, min_picks=params.min_picks,
                    iterations=params.station_term_iterations,
                    bounds_km=frame.region.location_bounds(self.scale.node_spacing_km))
            else:
                events, assignments = run(bind(given_terms))
        finally:
            torch.set_num_threads(previous_threads)
        lat, lon = frame.projection.to_geographic(events["x_km"].to_numpy(),
                                                  events["y_km"].to_numpy())
        events = events.assign(latitude=lat, longitude=lon)[EVENT_COLUMNS]
        return AssociationOutput(
            self.name, events=events, assignments=assignments, station_terms=given_terms,
            catalog_inputs=(table, sub, self.scale.name))

    def associate(self, picks: Any, inventory: Any, **kwargs: Any) -> Catalog:
        """Associate and locate picks; returns only the ObsPy Catalog. Takes the keyword
        arguments of :meth:`classify`.

        Examples
        --------
        >>> catalog = model.associate(picks, inventory)  # doctest: +SKIP
        >>> catalog.write("events.xml", format="QUAKEML")  # doctest: +SKIP
        """
        return self.classify(picks, inventory, **kwargs).catalog


class AssociationOutput(seisbench.util.ClassifyOutput):
    """Output of :meth:`GENIE.classify`: ``events`` and ``assignments`` DataFrames, the
    ``station_terms`` used (None, the given DataFrame, or the table estimated with
    ``station_terms="auto"``: ``id``, ``p_term_s``, ``s_term_s`` in s, ``n_p``, ``n_s``), and
    the ObsPy ``catalog`` built from the tables on first access (then kept).

    The tables are the association's result; the Catalog (one ObsPy object per origin, pick
    and arrival) is a view of them that took 3.0-3.6 s on the 2000-event crustal benchmark
    days (about 80k associated picks), so it is only built when asked for.

    Examples
    --------
    >>> out = AssociationOutput("GENIE", events=pd.DataFrame(), assignments=pd.DataFrame())
    >>> len(out.catalog), out.station_terms
    (0, None)
    """

    def __init__(self, creator: str, catalog_inputs: tuple | None = None,
                 station_terms: pd.DataFrame | None = None, **kwargs: Any):
        super().__init__(creator, station_terms=station_terms, **kwargs)
        self._catalog_inputs = catalog_inputs
        self._catalog: Catalog | None = None

    @property
    def catalog(self) -> Catalog:
        """The events as an ObsPy Catalog (see :func:`seisbench_genie.catalog.build_catalog`)."""
        if self._catalog is None:
            if self._catalog_inputs is None:
                self._catalog = Catalog()
            else:
                table, stations, model_name = self._catalog_inputs
                self._catalog = build_catalog(self.events, self.assignments, table, stations,
                                              model_name=model_name)
        return self._catalog


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {c: value[c].tolist() for c in value.columns}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return value


def _argument_table(method: Any) -> dict[str, tuple[str, Any]]:
    """``{argument: (first sentence of its docstring entry, default)}`` for the keyword-only
    arguments of ``method``.

    Examples
    --------
    >>> GENIE._annotate_args["min_picks"]
    ('Minimum associated picks per event.', 10)
    """
    doc = inspect.getdoc(method) or ""
    entries = dict(re.findall(r"^(\w+) : [^\n]*\n((?:    [^\n]*\n?)+)", doc, flags=re.M))
    out = {}
    for name, param in inspect.signature(method).parameters.items():
        if param.kind is param.KEYWORD_ONLY:
            text = " ".join(entries.get(name, "").split())
            first = re.split(r"\.\s+(?=[A-Z])", text)[0].rstrip(".")
            out[name] = (first + "." if first else "", param.default)
    return out


GENIE.classify.__doc__ = GENIE.classify.__doc__.replace(
    "{association_parameters}", parameter_docs(indent=8))
GENIE.associate.__signature__ = inspect.signature(GENIE.classify).replace(
    return_annotation=Catalog)
GENIE._annotate_args = _argument_table(GENIE.classify)
