"""The :class:`GENIE` model: SeisBench picks in, ObsPy Catalog out."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import seisbench.util
import torch
from obspy.core.event import Catalog

import seisbench_genie
from seisbench_genie.association import AssociationParams, Region, associate_table
from seisbench_genie.catalog import build_catalog
from seisbench_genie.geo import LocalProjection
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.nn.network import GENIENetwork
from seisbench_genie.picks import match_stations, pick_table
from seisbench_genie.pretrained import PoochPretrainedModel
from seisbench_genie.runtime import tune_malloc
from seisbench_genie.stations import station_table
from seisbench_genie.traveltimes import TravelTimeBackend, get, validate_velocity_model

WEIGHT_FORMAT = "seisbench_genie.GENIE/1"
CITATION = (
    "McBrearty, I. W., & Beroza, G. C. (2023). Earthquake phase association with graph neural "
    "networks. Bulletin of the Seismological Society of America, 113(2), 524-547. "
    "Implementation: seisbench-genie."
)
EVENT_OUTPUT_COLUMNS = ["event_idx", "time", "latitude", "longitude", "depth_km",
                        "horizontal_uncertainty_km", "depth_uncertainty_km",
                        "time_uncertainty_s", "n_picks", "n_stations", "score", "rms_s"]


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
    _annotate_args = {
        "velocity_model": ("1-D model (DataFrame depth_km, vp, vs) or a travel-time backend",
                           None),
        "region": ("dict of latitude, longitude, depth_km ranges; default: stations + margin",
                   None),
        "station_terms": ("DataFrame id, p_term_s, s_term_s (s, added to predictions)", None),
        "detection_threshold": ("Minimum source likelihood of an event (0-1)", 0.3),
        "association_threshold": ("Minimum association probability of a pick (0-1)", 0.3),
        "min_picks": ("Minimum picks per event", 10),
        "min_p_and_s_stations": ("Minimum stations with both P and S per event", 4),
        "require_fit": ("Check each event's picks against a hypocentre located from them "
                        "(tolerance adapted to the input's residuals)", True),
        "verify_candidates": ("Re-evaluate each candidate on a lattice centred on it, admitting "
                              "candidates down to 0.75 x detection_threshold", False),
        "detection_grids": ("Node grids the source field is evaluated on, each shifted by "
                            "1/detection_grids of the node spacing along x and y (default: "
                            "a second grid when the events crowd the stations)", None),
        "device": ("torch device for the network (default: the model's)", None),
        "batch_size": ("Windows per network call (default: from the graph size)", None),
        "num_threads": ("CPU threads of the association (torch intra-op threads; default 1)", 1),
        "tune_malloc": ("Raise glibc malloc's mmap/trim thresholds for the process (Linux)",
                        True),
        "progress": ("Show progress bars", False),
    }

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
        the model's scale, depth range, expected velocity-model type, code version, and the
        training config and validation scores when given).

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
        json_path, _ = self._get_weights_file_paths(path, version_str)
        meta = json.loads(Path(json_path).read_text())
        meta.update({
            "format": WEIGHT_FORMAT, "version": version_str or "1",
            "seisbench_requirement": "0.11.5",
            "seisbench_genie_version": seisbench_genie.__version__,
            "scale": self.scale.to_dict(), "depth_km": list(self.scale.depth_km),
            "velocity_model_type": self.velocity_model_type,
            "n_parameters": sum(p.numel() for p in self.parameters()),
        })
        meta["default_args"] = _jsonable(self.default_args)
        if training is not None:
            meta["training"] = _jsonable(training)
        if validation is not None:
            meta["validation"] = _jsonable(validation)
        Path(json_path).write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, path: str | Path, version_str: str | None = None, **kwargs: Any) -> GENIE:
        """Load weights written by :meth:`save`; files of another format or made for another
        model scale raise a ``ValueError`` naming the problem.

        Examples
        --------
        >>> GENIE.load("runs/mine/crustal", version_str="1")  # doctest: +SKIP
        """
        json_path, pt_path = cls._get_weights_file_paths(Path(path), version_str)
        if not Path(json_path).is_file() or not Path(pt_path).is_file():
            raise ValueError(f"path: no GENIE weights at {json_path} / {pt_path}")
        try:
            meta = json.loads(Path(json_path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{json_path}: not a JSON weight description ({err})") from err
        if meta.get("format") != WEIGHT_FORMAT:
            raise ValueError(f"{json_path}: unknown weight format {meta.get('format')!r}; "
                             f"expected {WEIGHT_FORMAT!r} (written by GENIE.save)")
        try:
            return super().load(path, version_str=version_str, **kwargs)
        except RuntimeError as err:  # state-dict shape/key mismatch
            raise ValueError(
                f"{pt_path}: weights do not fit the model described in {json_path} (scale "
                f"{meta.get('scale', {}).get('name')!r}, hidden {meta.get('model_args', {}).get('hidden')}, signed residuals "
                f"{meta.get('model_args', {}).get('signed_residuals', False)}); "
                f"were they made for another model? ({str(err).splitlines()[0]})") from err

    # ------------------------------------------------------------------ inference
    def _arg(self, kwargs: dict, name: str) -> Any:
        if kwargs.get(name) is not None:
            return kwargs[name]
        if name in self.default_args and self.default_args[name] is not None:
            return self.default_args[name]
        return self._annotate_args[name][1]

    def _backend(self, velocity_model: Any, region: Region) -> TravelTimeBackend:
        if isinstance(velocity_model, TravelTimeBackend):
            backend = velocity_model
        elif velocity_model is None:
            raise ValueError("velocity_model: none given and the weights carry no default; "
                             "pass a DataFrame of layer tops (depth_km, vp, vs) or a backend "
                             "from seisbench_genie.traveltimes")
        else:
            frame = pd.DataFrame(velocity_model)
            diag = float(np.hypot(region.x_km[1] - region.x_km[0],
                                  region.y_km[1] - region.y_km[0]))
            backend = get("layered", model=validate_velocity_model(frame),
                          max_distance_km=float(np.ceil(
                              min(diag, self.scale.max_distance_km) * 1.3 + 50.0)),
                          max_depth_km=float(np.ceil(region.depth_km[1] + 5.0)))
        if backend.max_depth_km is not None and region.depth_km[1] > backend.max_depth_km:
            raise ValueError(
                f"region: depth_km reaches {region.depth_km[1]} km but the travel-time table "
                f"({backend!r}) stops at {backend.max_depth_km} km")
        return backend

    def _region(self, region: dict | None, projection: LocalProjection,
                stations: pd.DataFrame) -> Region:
        if region is None:
            x, y = projection.to_local(stations["latitude"], stations["longitude"])
            m = self.scale.margin_km
            return Region((float(x.min()) - m, float(x.max()) + m),
                          (float(y.min()) - m, float(y.max()) + m), self.scale.depth_km)
        missing = {"latitude", "longitude"} - set(region)
        if missing:
            raise ValueError(f"region: missing key(s) {sorted(missing)}; expected latitude, "
                             "longitude and optionally depth_km ranges")
        lat, lon = (tuple(map(float, region[k])) for k in ("latitude", "longitude"))
        depth = tuple(map(float, region.get("depth_km", self.scale.depth_km)))
        for name, (lo, hi) in (("latitude", lat), ("longitude", lon), ("depth_km", depth)):
            if not hi > lo:
                raise ValueError(f"region: {name} range must be increasing, got {(lo, hi)}")
        if depth[0] < 0:
            raise ValueError(f"region: depth_km must be >= 0 km, got {depth}")
        glat, glon = np.meshgrid(np.linspace(*lat, 5), np.linspace(*lon, 5))
        x, y = projection.to_local(glat.ravel(), glon.ravel())
        return Region((float(x.min()), float(x.max())), (float(y.min()), float(y.max())), depth)

    def classify(self, picks: Any, inventory: Any, **kwargs: Any) -> AssociationOutput:
        """Associate and locate picks.

        Parameters
        ----------
        picks
            SeisBench ``PickList`` / list of ``Pick``, or a DataFrame with ``station``,
            ``phase``, ``time`` (UTCDateTime, datetime64 or POSIX s) and optional
            ``probability``. P/S variants (p, Pg, Pn, s, Sg, Sn) are mapped; other labels are
            ignored with one warning.
        inventory
            ObsPy Inventory or DataFrame ``id``, ``latitude``, ``longitude``, ``elevation``
            (m); ids "NET.STA.LOC" with an empty-location fallback.
        **kwargs
            velocity_model : DataFrame (depth_km, vp, vs in km, km/s; layer tops) or a
                travel-time backend (default: the model's training base model).
            region : dict with ``latitude``, ``longitude`` (deg) and ``depth_km`` ranges.
            station_terms : DataFrame ``id``, ``p_term_s``, ``s_term_s`` (s, added).
            detection_threshold (0-1, default 0.3), association_threshold (0-1, default 0.3),
            min_picks (default 10), min_p_and_s_stations (default 4, as PyOcto's
            ``n_p_and_s_picks`` in the benchmark settings; 0 switches it off), require_fit
            (default True: each event's picks are checked against a hypocentre located from
            them, within the association tolerance, 0.5 s + 2 % of the P travel time, x 1.7
            for S, widened to the input's own residual level so that a velocity model off by
            several percent keeps its events; where chance coincidences of picks could make
            up min_picks, as on dense noisy days, min_picks and min_p_and_s_stations count
            fitting picks only, elsewhere an event needs 4 more fitting picks than chance
            would give; False skips the check), verify_candidates (default False: True
            evaluates the network once more on a node lattice centred on each relocated
            candidate, admits candidates down to 0.75 x detection_threshold when that field
            reaches the threshold, and associates with its embeddings; more events on very
            dense days with an accurate velocity model, fewer when the travel times are off),
            detection_grids (node grids the source field is evaluated on, each shifted by
            1/detection_grids of the node spacing along x and y, the later grids only in
            windows where the first saw activity; a second grid finds events between the
            first grid's nodes that other events' picks hide on days crowded with events,
            and more false events on days made mostly of false picks, at up to twice the
            time. Default None: one grid, and a second one when the first grid's events
            hold on average 0.15 picks or more per station within the model's kernel width
            of a given time; 1 or 2 force it),
            device, batch_size
            (windows per network call; default: chosen from the graph size), num_threads
            (CPU threads, default 1: the network's operations are small, and on this
            project's 2-core test machine two threads were no faster on an idle machine and
            up to 25 times slower while another process kept a core busy; the previous
            torch setting is restored afterwards), tune_malloc (default True: on Linux with
            glibc, raise malloc's mmap and trim thresholds to 32 / 256 MB for this process, so
            the network's per-batch arrays reuse freed memory instead of fresh pages that the
            kernel must zero; about a third less time on this project's benchmark days. The
            process may keep up to 256 MB of freed memory; see
            :func:`seisbench_genie.runtime.tune_malloc`), progress (bool).

        Returns
        -------
        AssociationOutput
            A ``seisbench.util.ClassifyOutput`` with ``catalog`` (ObsPy Catalog, built from the
            two tables on first access: a 2000-event day takes a few seconds), ``events``
            (DataFrame: event_idx, time (POSIX s),
            latitude, longitude, depth_km, horizontal/depth uncertainty (km), time
            uncertainty (s), n_picks, n_stations, score, rms_s) and ``assignments``
            (pick_idx = position in the input, event_idx, phase, probability, residual_s).

        Examples
        --------
        >>> out = model.classify(picks, inventory, velocity_model=model_df)  # doctest: +SKIP
        """
        unknown = set(kwargs) - set(self._annotate_args)
        if unknown:
            raise ValueError(f"classify: unknown argument(s) {sorted(unknown)}; known: "
                             f"{sorted(self._annotate_args)}")
        params = AssociationParams(
            detection_threshold=float(self._arg(kwargs, "detection_threshold")),
            association_threshold=float(self._arg(kwargs, "association_threshold")),
            min_picks=int(self._arg(kwargs, "min_picks")),
            min_p_and_s_stations=int(self._arg(kwargs, "min_p_and_s_stations")),
            require_fit=bool(self._arg(kwargs, "require_fit")),
            verify_candidates=bool(self._arg(kwargs, "verify_candidates")),
            detection_grids=_whole_or_none(self._arg(kwargs, "detection_grids"),
                                           "detection_grids"),
            batch_size=(None if self._arg(kwargs, "batch_size") is None
                        else int(self._arg(kwargs, "batch_size"))),
            progress=bool(self._arg(kwargs, "progress")),
        )
        for name in ("detection_threshold", "association_threshold"):
            if not 0 < getattr(params, name) < 1:
                raise ValueError(f"{name}: must be in (0, 1), got {getattr(params, name)}")
        if params.detection_grids is not None and params.detection_grids < 1:
            raise ValueError(f"detection_grids: must be >= 1, got {params.detection_grids}")
        if params.min_picks < 1 or (params.batch_size is not None and params.batch_size < 1):
            raise ValueError("min_picks and batch_size must be >= 1")
        num_threads = int(self._arg(kwargs, "num_threads"))
        if num_threads < 1:
            raise ValueError(f"num_threads: must be >= 1, got {num_threads}")
        stations = station_table(inventory, "inventory")
        table = pick_table(picks)
        table = match_stations(table, stations) if len(table) else table
        empty_events = pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_OUTPUT_COLUMNS})
        empty_asg = pd.DataFrame({c: pd.Series(dtype=float) for c in
                                  ("pick_idx", "event_idx", "phase", "probability",
                                   "residual_s")})
        if len(table) == 0:
            return AssociationOutput(self.name, events=empty_events, assignments=empty_asg)
        used = np.unique(table["station_index"].to_numpy())
        sub = stations.iloc[used].reset_index(drop=True)
        remap = np.full(len(stations), -1)
        remap[used] = np.arange(len(used))
        table = table.assign(station_index=remap[table["station_index"].to_numpy()])
        projection = LocalProjection.centred_on(sub)
        region = self._region(self._arg(kwargs, "region"), projection, sub)
        backend = self._backend(self._arg(kwargs, "velocity_model"), region)
        bound = backend.bind(sub, projection=projection,
                             station_terms=self._arg(kwargs, "station_terms"))
        device = self._arg(kwargs, "device")
        if device is not None:
            self.to(device)
        if self._arg(kwargs, "tune_malloc"):
            tune_malloc()
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(num_threads)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # torch sparse "beta" notices
                events, assignments = associate_table(self.network, bound, region, table, params)
        finally:
            torch.set_num_threads(previous_threads)
        lat, lon = projection.to_geographic(events["x_km"].to_numpy(),
                                            events["y_km"].to_numpy())
        events = events.assign(latitude=lat, longitude=lon)[EVENT_OUTPUT_COLUMNS]
        return AssociationOutput(
            self.name, events=events, assignments=assignments,
            catalog_inputs=(table, sub, self.scale.name))

    def associate(self, picks: Any, inventory: Any, **kwargs: Any) -> Catalog:
        """Associate and locate picks; returns only the ObsPy Catalog (see :meth:`classify`).

        Examples
        --------
        >>> catalog = model.associate(picks, inventory)  # doctest: +SKIP
        >>> catalog.write("events.xml", format="QUAKEML")  # doctest: +SKIP
        """
        return self.classify(picks, inventory, **kwargs).catalog


class AssociationOutput(seisbench.util.ClassifyOutput):
    """Output of :meth:`GENIE.classify`: ``events`` and ``assignments`` DataFrames, and the
    ObsPy ``catalog`` built from them on first access (then kept).

    The tables are the association's result; the Catalog (one ObsPy object per origin, pick
    and arrival) is a view of them that took 3.0-3.6 s on the 2000-event crustal benchmark
    days (about 80k associated picks), so it is only built when asked for.

    Examples
    --------
    >>> out = AssociationOutput("GENIE", events=pd.DataFrame(), assignments=pd.DataFrame())
    >>> len(out.catalog)
    0
    """

    def __init__(self, creator: str, catalog_inputs: tuple | None = None, **kwargs: Any):
        super().__init__(creator, **kwargs)
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


def _whole_or_none(value: Any, name: str) -> int | None:
    """``value`` as an int (``None`` stays ``None``); a ValueError naming ``name`` for a
    fraction or a non-number.

    Examples
    --------
    >>> _whole_or_none(2.0, "detection_grids"), _whole_or_none(None, "detection_grids")
    (2, None)
    """
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a whole number, got {value!r}") from None
    if not number.is_integer():
        raise ValueError(f"{name}: must be a whole number, got {value!r}")
    return int(number)
