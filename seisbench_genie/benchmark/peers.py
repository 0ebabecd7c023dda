"""Peer associators (PyOcto, GaMMA): their virtualenv, settings and subprocess driver.

The peers need ``numpy<2`` on Python 3.11 (PyOcto) and an exact scikit-learn pin (GaMMA), which
clash with this project's environment, so they run in a virtualenv of their own (created on
first use by :func:`ensure_peer_venv`). The standalone scripts ``peers/pyocto_runner.py`` and
``peers/gamma_runner.py`` are executed by that venv's python through the file contract of
:mod:`seisbench_genie.benchmark.protocol`.

Settings follow PyOcto's own benchmark configurations (``benchmark/configs/associator/*_1d_*``
in yetinam/pyocto): ``time_before`` 300 s, at least 10 picks with 2 P, 2 S and 4 stations with
both; 1-D model tolerance and pick-match tolerance 1.5 s, association cutoff distance 250 km
(subduction) / 100 km (crustal). GaMMA: BGMM, oversample factor 4, DBSCAN eps 25 s and 3
samples, at least 10 picks, ``max_sigma11`` 2 s, time covariance prior 5 s^2 (the default of
the GaMMA commit PyOcto's benchmark used), eikonal 1-D option from the scenario's layered model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.benchmark.protocol import (
    RunOutput,
    run_associator_process,
    tail,
    thread_environment,
    write_inputs,
)

#: Default location of the peers' virtualenv.
DEFAULT_PEER_VENV = Path("~/.cache/seisbench_genie/peers-venv")

#: The pinned set installed into the peer venv; resolved and verified together on CPython 3.11
#: (Linux x86_64) from ``pip install "numpy<2" pyocto==0.2.2 pyrocko gmma==1.2.17 pandas``.
#: ``pyarrow`` is left out: its current release (26.x) needs numpy>=2 and fails to import
#: next to numpy 1.26; the file contract uses CSV.
PEER_REQUIREMENTS: tuple[str, ...] = (
    "numpy==1.26.4",
    "pyocto==0.2.2",
    "gmma==1.2.17",
    "pyrocko==2026.6.2",
    "pandas==3.0.6",
    "scikit-learn==1.7.0",
    "scipy==1.17.1",
    "numba==0.68.1",
    "llvmlite==0.50.0",
    "pyproj==3.7.2",
    "tqdm==4.70.1",
    "joblib==1.6.0",
    "threadpoolctl==3.8.0",
    "python-dateutil==4.0.0",
    "tzdata==2026.6",
)

_MARKER = "seisbench_genie_peers.json"
PEER_SCRIPTS_DIR = Path(__file__).resolve().parent / "peers"
PEER_SCRIPTS = {
    "pyocto": PEER_SCRIPTS_DIR / "pyocto_runner.py",
    "gamma": PEER_SCRIPTS_DIR / "gamma_runner.py",
}

#: Keyword arguments of ``pyocto.OctoAssociator`` used for every scenario.
PYOCTO_ASSOCIATOR = {
    "time_before": 300.0,
    "n_picks": 10,
    "n_p_picks": 2,
    "n_s_picks": 2,
    "n_p_and_s_picks": 4,
    "pick_match_tolerance": 1.5,
}
#: ``pyocto.VelocityModel1D`` tolerance and association cutoff distance (km) per scenario.
PYOCTO_VELOCITY = {
    "subduction": {"tolerance": 1.5, "association_cutoff_distance": 250.0},
    "crustal": {"tolerance": 1.5, "association_cutoff_distance": 100.0},
}
#: GaMMA configuration entries used for every scenario.
GAMMA_CONFIG = {
    "use_dbscan": True,
    "use_amplitude": False,
    "oversample_factor": 4,
    "dbscan_eps": 25.0,
    "dbscan_min_samples": 3,
    "min_picks_per_eq": 10,
    "max_sigma11": 2.0,
    "max_sigma22": 1.0,
    "max_sigma12": 1.0,
    # The GaMMA commit pinned by PyOcto's benchmark (8110f373) used a fixed time covariance
    # prior of 5 s^2 (``[5.0, 2.0]``); gmma 1.2.17 instead derives it from the station spread
    # of each cluster (0.5 + 4 (15^(r/30) - 1)/14 s^2), which for a regional network (r of
    # 100+ km) becomes thousands of s^2 and merges events. Pin the benchmark's value.
    "covariance_prior": [5.0, 2.0],
}
#: GaMMA's homogeneous velocities per scenario (used for DBSCAN's space-time scaling).
GAMMA_VEL = {
    "subduction": {"p": 7.0, "s": 4.0},
    "crustal": {"p": 6.3, "s": 3.7},
}


class PeerEnvironmentError(RuntimeError):
    """The peer virtualenv could not be created or installed."""


def peer_python(venv: str | Path) -> Path:
    """Path of the python executable inside the peer virtualenv ``venv``.

    Examples
    --------
    >>> peer_python("/tmp/v").as_posix()
    '/tmp/v/bin/python'
    """
    venv = Path(venv).expanduser()
    if os.name == "nt":  # pragma: no cover - the benchmark targets POSIX
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def peer_venv_ready(venv: str | Path, requirements: tuple[str, ...] = PEER_REQUIREMENTS) -> bool:
    """Whether ``venv`` exists and was installed with exactly ``requirements``.

    Examples
    --------
    >>> peer_venv_ready("/nonexistent/venv")
    False
    """
    venv = Path(venv).expanduser()
    marker = venv / _MARKER
    if not peer_python(venv).exists() or not marker.is_file():
        return False
    try:
        recorded = json.loads(marker.read_text()).get("requirements")
    except (OSError, ValueError):
        return False
    return list(recorded or []) == list(requirements)


def ensure_peer_venv(
    venv: str | Path = DEFAULT_PEER_VENV,
    *,
    requirements: tuple[str, ...] = PEER_REQUIREMENTS,
    python: str | Path | None = None,
    log: Any = None,
) -> Path:
    """Create (on first use) the peers' virtualenv and return its python.

    Runs ``python -m venv VENV`` and ``VENV/bin/python -m pip install <requirements>``; a marker
    file records the installed set so later calls return at once.

    Parameters
    ----------
    venv
        Directory of the virtualenv (``~`` is expanded).
    requirements
        Pip requirement strings (default :data:`PEER_REQUIREMENTS`).
    python
        Interpreter used to create the venv (default: the running one).
    log
        Stream for progress messages (default ``sys.stderr``).

    Returns
    -------
    pathlib.Path
        The venv's python executable.

    Raises
    ------
    PeerEnvironmentError
        When venv creation or installation fails (message ends with pip's output tail).

    Examples
    --------
    >>> py = ensure_peer_venv("~/.cache/seisbench_genie/peers-venv")  # doctest: +SKIP
    """
    log = sys.stderr if log is None else log
    venv = Path(venv).expanduser()
    if peer_venv_ready(venv, requirements):
        return peer_python(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    install_log = venv.parent / (venv.name + "-install.log")
    steps = []
    if not peer_python(venv).exists():
        steps.append([str(python or sys.executable), "-m", "venv", str(venv)])
    steps.append(
        [str(peer_python(venv)), "-m", "pip", "install", "--disable-pip-version-check",
         *requirements]
    )
    print(f"[benchmark] creating peer venv {venv} (log: {install_log})", file=log, flush=True)
    with open(install_log, "w") as fh:
        for cmd in steps:
            fh.write("$ " + " ".join(cmd) + "\n")
            fh.flush()
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                raise PeerEnvironmentError(
                    f"peer venv setup failed ({' '.join(cmd[:4])} ...): exit {proc.returncode}; "
                    f"log tail:\n{tail(install_log.read_text(errors='replace'))}"
                )
    (venv / _MARKER).write_text(
        json.dumps({"requirements": list(requirements), "python": sys.version}, indent=2)
    )
    print(f"[benchmark] peer venv ready: {peer_python(venv)}", file=log, flush=True)
    return peer_python(venv)


def layered_to_nodes(
    velocity_model: pd.DataFrame, max_depth_km: float, gap_km: float = 0.001
) -> pd.DataFrame:
    """Convert constant-velocity layers into interpolation nodes for PyOcto/GaMMA.

    Both peers interpolate velocities linearly between nodes; duplicating each interface
    ``gap_km`` (1 m) apart keeps every layer constant.

    Parameters
    ----------
    velocity_model
        Layer tops: ``depth_km``, ``vp``, ``vs``.
    max_depth_km
        Depth of the last node (the last layer is extended to it).
    gap_km
        Distance between the two nodes of an interface.

    Returns
    -------
    pandas.DataFrame
        Columns ``depth``, ``vp``, ``vs`` (PyOcto's ``create_model`` format).

    Examples
    --------
    >>> vm = pd.DataFrame({"depth_km": [0.0, 5.5], "vp": [5.5, 6.3], "vs": [3.18, 3.64]})
    >>> layered_to_nodes(vm, 40.0).values.tolist()
    [[0.0, 5.5, 3.18], [5.499, 5.5, 3.18], [5.5, 6.3, 3.64], [40.0, 6.3, 3.64]]
    """
    vm = velocity_model.sort_values("depth_km").reset_index(drop=True)
    if not len(vm):
        raise ValueError("velocity_model: no layers")
    rows: list[tuple[float, float, float]] = []
    if vm["depth_km"].iloc[0] > 0:
        rows.append((0.0, float(vm["vp"].iloc[0]), float(vm["vs"].iloc[0])))
    for i, layer in vm.iterrows():
        top = float(layer["depth_km"])
        if i > 0:
            prev = vm.iloc[i - 1]
            rows.append((round(top - gap_km, 6), float(prev["vp"]), float(prev["vs"])))
        rows.append((top, float(layer["vp"]), float(layer["vs"])))
    last = vm.iloc[-1]
    bottom = max(float(max_depth_km), float(last["depth_km"]) + 2 * gap_km)
    rows.append((bottom, float(last["vp"]), float(last["vs"])))
    return pd.DataFrame(rows, columns=["depth", "vp", "vs"])


def region_diagonal_km(region: Mapping[str, Any]) -> float:
    """Great-circle length (km) of the diagonal of the region's lat/lon box.

    Examples
    --------
    >>> round(region_diagonal_km({"latitude": (0, 1), "longitude": (0, 0)}), 1)
    111.2
    """
    from seisbench_genie.geo import great_circle_km

    (lat0, lat1), (lon0, lon1) = region["latitude"], region["longitude"]
    return float(great_circle_km(lat0, lon0, lat1, lon1))


def scenario_kind(name: str) -> str:
    """``"crustal"`` or ``"subduction"`` from a scenario (or scenario cell) name.

    Examples
    --------
    >>> scenario_kind("subduction_500_1.0")
    'subduction'
    """
    for kind in ("subduction", "crustal"):
        if name.startswith(kind):
            return kind
    raise ValueError(f"unknown scenario kind in {name!r}")


def _grid_spacing_km(region: Mapping[str, Any]) -> float:
    return 1.0 if float(region["depth_km"][1]) > 60.0 else 0.5


def pyocto_config(
    scenario: str,
    region: Mapping[str, Any],
    velocity_model: pd.DataFrame,
    stations: pd.DataFrame,
    *,
    threads: int,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """PyOcto's configuration (for ``config.json``) and velocity nodes for one scenario.

    Parameters
    ----------
    scenario
        Scenario name (``crustal...`` or ``subduction...``).
    region
        The scenario's search volume (latitude, longitude, depth_km ranges).
    velocity_model
        Layer tops (``depth_km``, ``vp``, ``vs``).
    stations
        Station table (``elevation`` in m), used for the table depth.
    threads
        ``n_threads`` of the associator.
    seed
        Recorded only (PyOcto is deterministic).
    overrides
        Replaces entries: keys of :data:`PYOCTO_ASSOCIATOR` go to the associator, ``tolerance``
        / ``association_cutoff_distance`` / ``surface_*_velocity`` to the velocity model.

    Returns
    -------
    (dict, pandas.DataFrame)
        The JSON config and the velocity nodes (``depth, vp, vs``).

    Examples
    --------
    >>> vm = pd.DataFrame({"depth_km": [0.0, 10.0], "vp": [6.0, 7.0], "vs": [3.5, 4.0]})
    >>> st = pd.DataFrame({"elevation": [500.0]})
    >>> reg = {"latitude": (0, 1), "longitude": (0, 1), "depth_km": (0, 30)}
    >>> cfg, nodes = pyocto_config("crustal_100_0.3", reg, vm, st, threads=2)
    >>> cfg["velocity_model"]["association_cutoff_distance"], cfg["associator"]["n_picks"]
    (100.0, 10)
    """
    kind = scenario_kind(scenario)
    assoc = dict(PYOCTO_ASSOCIATOR)
    vel = dict(PYOCTO_VELOCITY[kind])
    first = velocity_model.sort_values("depth_km").iloc[0]
    vel["surface_p_velocity"] = float(first["vp"])
    vel["surface_s_velocity"] = float(first["vs"])
    for key, value in (overrides or {}).items():
        (vel if key in vel else assoc)[key] = value
    max_elev_km = max(0.0, float(stations["elevation"].max()) / 1000.0)
    zdist = float(np.ceil(float(region["depth_km"][1]) + max_elev_km + 10.0))
    xdist = float(np.ceil(region_diagonal_km(region) + 50.0))
    nodes = layered_to_nodes(velocity_model, zdist)
    config = {
        "associator_name": "pyocto",
        "region": {k: list(map(float, region[k])) for k in ("latitude", "longitude", "depth_km")},
        "threads": int(threads),
        "seed": int(seed),
        "table": {"delta_km": _grid_spacing_km(region), "xdist_km": xdist, "zdist_km": zdist},
        "velocity_model": vel,
        "associator": assoc,
    }
    return config, nodes


def gamma_config(
    scenario: str,
    region: Mapping[str, Any],
    velocity_model: pd.DataFrame,
    stations: pd.DataFrame,
    *,
    threads: int,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """GaMMA's configuration (for ``config.json``) and velocity nodes for one scenario.

    Parameters
    ----------
    scenario, region, velocity_model, stations, threads
        As in :func:`pyocto_config`; ``threads`` becomes GaMMA's ``ncpu``.
    seed
        Seeds numpy and random before the association.
    overrides
        Replaces GaMMA config entries (e.g. ``max_sigma11``); ``eikonal_h_km`` and ``method``
        are accepted too.

    Returns
    -------
    (dict, pandas.DataFrame)

    Examples
    --------
    >>> vm = pd.DataFrame({"depth_km": [0.0, 10.0], "vp": [6.0, 7.0], "vs": [3.5, 4.0]})
    >>> st = pd.DataFrame({"elevation": [500.0]})
    >>> reg = {"latitude": (0, 1), "longitude": (0, 1), "depth_km": (0, 250)}
    >>> cfg, _ = gamma_config("subduction_100_0.3", reg, vm, st, threads=2)
    >>> cfg["gamma"]["vel"], cfg["method"]
    ({'p': 7.0, 's': 4.0}, 'BGMM')
    """
    kind = scenario_kind(scenario)
    gamma = dict(GAMMA_CONFIG)
    gamma["vel"] = dict(GAMMA_VEL[kind])
    config: dict[str, Any] = {
        "associator_name": "gamma",
        "region": {k: list(map(float, region[k])) for k in ("latitude", "longitude", "depth_km")},
        "threads": int(threads),
        "seed": int(seed),
        "method": "BGMM",
        "eikonal_h_km": _grid_spacing_km(region),
        "gamma": gamma,
    }
    for key, value in (overrides or {}).items():
        (config if key in ("eikonal_h_km", "method") else gamma)[key] = value
    max_elev_km = max(0.0, float(stations["elevation"].max()) / 1000.0)
    nodes = layered_to_nodes(
        velocity_model, float(np.ceil(float(region["depth_km"][1]) + max_elev_km + 10.0))
    )
    return config, nodes


_CONFIG_BUILDERS = {"pyocto": pyocto_config, "gamma": gamma_config}


def run_peer(
    name: str,
    scenario: Any,
    workdir: str | Path,
    *,
    python: str | Path,
    threads: int,
    seed: int = 0,
    timeout: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunOutput:
    """Run peer ``name`` ("pyocto" or "gamma") on a scenario in a subprocess.

    Parameters
    ----------
    name
        ``"pyocto"`` or ``"gamma"``.
    scenario
        A :class:`seisbench_genie.synthetic.Scenario` (``name``, ``picks``, ``stations``,
        ``velocity_model``, ``region``).
    workdir
        Empty directory for the file contract.
    python
        The peer venv's python (see :func:`ensure_peer_venv`).
    threads, seed, timeout, overrides
        See :func:`pyocto_config` / :func:`gamma_config`;
        ``timeout`` in seconds for the whole subprocess.

    Returns
    -------
    RunOutput

    Examples
    --------
    >>> from seisbench_genie.synthetic import make_scenario  # doctest: +SKIP
    >>> scn = make_scenario("subduction", n_events=100, noise=0.3)  # doctest: +SKIP
    >>> out = run_peer("pyocto", scn, "/tmp/w", python=ensure_peer_venv(),
    ...                threads=2)  # doctest: +SKIP
    >>> out.timing["wall_seconds"]  # doctest: +SKIP
    0.8
    """
    if name not in _CONFIG_BUILDERS:
        raise ValueError(f"unknown peer {name!r}; choose from {sorted(_CONFIG_BUILDERS)}")
    config, nodes = _CONFIG_BUILDERS[name](
        scenario.name,
        scenario.region,
        scenario.velocity_model,
        scenario.stations,
        threads=threads,
        seed=seed,
        overrides=overrides,
    )
    write_inputs(workdir, scenario.picks, scenario.stations, nodes, config)
    return run_associator_process(
        [str(python), str(PEER_SCRIPTS[name])],
        workdir,
        timeout=timeout,
        env=thread_environment(threads),
    )
