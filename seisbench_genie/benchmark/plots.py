"""Benchmark figures (matplotlib, Agg backend).

* Event-F1 heat maps per scenario, one panel per associator, events x noise (after Puente et
  al. 2025, Figs. 3-4); failed or timed-out runs are marked with a red X.
* Runtime against the number of picks on log-log axes, one panel per scenario (after Fig. 9).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

_ASSOC_ORDER = {"genie": 0, "pyocto": 1, "gamma": 2}
_COLORS = {"genie": "tab:red", "pyocto": "tab:blue", "gamma": "tab:green"}
_MARKERS = {0.3: "o", 1.0: "s", 3.0: "^"}
_LABELS = {"event_f1": "event F1", "event_precision": "event precision",
           "event_recall": "event recall", "pick_f1": "pick F1"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _associators(df: pd.DataFrame) -> list[str]:
    return sorted(df["associator"].unique(), key=lambda a: (_ASSOC_ORDER.get(a, 9), a))


def _variant_suffix(key: dict) -> tuple[str, str]:
    """(file-name suffix, title suffix) of a non-default scenario variant."""
    file_parts, title_parts = [], []
    lo, hi = key.get("tt_noise_lo", 0.0), key.get("tt_noise_hi", 0.01)
    if (lo, hi) != (0.0, 0.01):
        file_parts.append(f"tt{lo:g}-{hi:g}")
        title_parts.append(f"tt noise {lo:g}–{hi:g}")
    if key.get("out_of_network", 0):
        file_parts.append(f"oon{int(key['out_of_network'])}")
        title_parts.append(f"{int(key['out_of_network'])} out-of-network")
    if key.get("pick_removal", 0.0):
        file_parts.append(f"rm{key['pick_removal']:g}")
        title_parts.append(f"{key['pick_removal']:g} picks removed")
    if key.get("seed", 0):
        file_parts.append(f"seed{int(key['seed'])}")
        title_parts.append(f"seed {int(key['seed'])}")
    return (
        ("_" + "_".join(file_parts)) if file_parts else "",
        (" (" + ", ".join(title_parts) + ")") if title_parts else "",
    )


def plot_f1_heatmaps(df: pd.DataFrame, out: str | Path, metric: str = "event_f1") -> list[Path]:
    """Heat maps of ``metric`` over events x noise, one figure per scenario variant.

    Parameters
    ----------
    df
        Result rows (needs ``associator``, ``scenario``, ``n_events``, ``noise``, ``status`` and
        ``metric``).
    out
        Output directory.
    metric
        Score column to show (default event F1).

    Returns
    -------
    list of pathlib.Path
        ``f1_heatmap_<scenario>[_variant].png`` files.

    Examples
    --------
    >>> import tempfile
    >>> df = pd.DataFrame({"associator": ["pyocto", "gamma"], "scenario": ["crustal"] * 2,
    ...                    "n_events": [100, 100], "noise": [0.3, 0.3], "status": ["ok", "timeout"],
    ...                    "event_f1": [0.99, float("nan")]})
    >>> [p.name for p in plot_f1_heatmaps(df, tempfile.mkdtemp())]
    ['f1_heatmap_crustal.png']
    """
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    keys = [c for c in ("scenario", "tt_noise_lo", "tt_noise_hi", "out_of_network",
                        "pick_removal", "seed") if c in df]
    paths = []
    for vals, sub in df.groupby(keys, sort=True):
        key = dict(zip(keys, vals if isinstance(vals, tuple) else (vals,), strict=True))
        assocs = _associators(sub)
        events = sorted(sub["n_events"].unique())
        noises = sorted(sub["noise"].unique())
        fig, axes = plt.subplots(
            1, len(assocs), figsize=(1.2 + 2.6 * len(assocs), 0.9 + 0.75 * len(events) + 0.8),
            squeeze=False, constrained_layout=True,
        )
        image = None
        for ax, assoc in zip(axes[0], assocs, strict=True):
            grid = np.full((len(events), len(noises)), np.nan)
            failed = []
            s = sub[sub["associator"] == assoc]
            for _, r in s.iterrows():
                i, j = events.index(r["n_events"]), noises.index(r["noise"])
                if r["status"] == "ok":
                    grid[i, j] = r[metric]
                else:
                    failed.append((i, j, r["status"]))
            image = ax.imshow(grid, vmin=0.0, vmax=1.0, cmap="viridis", origin="lower",
                              aspect="auto")
            for i in range(len(events)):
                for j in range(len(noises)):
                    if np.isfinite(grid[i, j]):
                        ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center",
                                color="white" if grid[i, j] < 0.6 else "black", fontsize=9)
            for i, j, status in failed:
                ax.plot(j, i, marker="x", color="red", markersize=18, mew=3)
                ax.text(j, i - 0.32, status, ha="center", va="center", color="red", fontsize=7)
            ax.set_xticks(range(len(noises)), [f"{z * 100:g} %" for z in noises])
            ax.set_yticks(range(len(events)), [str(int(n)) for n in events])
            ax.set_xlabel("false picks (noise)")
            ax.set_title(assoc)
        axes[0][0].set_ylabel("events per day")
        if image is not None:
            fig.colorbar(image, ax=axes[0].tolist(), shrink=0.9, label=_LABELS.get(metric, metric))
        file_sfx, title_sfx = _variant_suffix(key)
        fig.suptitle(f"{_LABELS.get(metric, metric)} – {key['scenario']}{title_sfx}")
        name = "f1_heatmap" if metric == "event_f1" else f"{metric}_heatmap"
        path = out / f"{name}_{key['scenario']}{file_sfx}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_runtime(df: pd.DataFrame, out: str | Path, timeout: float | None = None) -> Path:
    """Runtime (association call) against number of picks, log-log, one panel per scenario.

    Timed-out runs are drawn as red crosses at the time limit (``timeout``, or the largest
    runtime when unknown).

    Parameters
    ----------
    df
        Result rows (needs ``associator``, ``scenario``, ``n_picks``, ``wall_s``, ``status``).
    out
        Output directory.
    timeout
        Per-run time limit (s) used to place timed-out runs.

    Returns
    -------
    pathlib.Path
        ``runtime_vs_picks.png``.

    Examples
    --------
    >>> import tempfile
    >>> df = pd.DataFrame({"associator": ["pyocto"] * 2, "scenario": ["crustal"] * 2,
    ...                    "n_picks": [1000, 9000], "wall_s": [0.2, 1.5], "noise": [0.3, 1.0],
    ...                    "status": ["ok", "ok"]})
    >>> plot_runtime(df, tempfile.mkdtemp()).name
    'runtime_vs_picks.png'
    """
    plt = _pyplot()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    scenarios = sorted(df["scenario"].unique())
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5.2 * len(scenarios), 4.4),
                             squeeze=False, constrained_layout=True)
    limit = timeout
    if limit is None:
        ok_times = df.loc[df["status"] == "ok", "wall_s"]
        limit = float(ok_times.max()) if len(ok_times) else 1.0
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        sub = df[df["scenario"] == scenario]
        for assoc in _associators(sub):
            s = sub[sub["associator"] == assoc].sort_values("n_picks")
            ok = s[(s["status"] == "ok") & (s["wall_s"] > 0)]
            color = _COLORS.get(assoc)
            ax.plot(ok["n_picks"], ok["wall_s"], "-", color=color, alpha=0.5, lw=1)
            for noise, g in ok.groupby("noise") if "noise" in ok else [(None, ok)]:
                ax.plot(g["n_picks"], g["wall_s"], _MARKERS.get(noise, "D"), color=color,
                        ms=6, ls="none")
            ax.plot([], [], "-o", color=color, label=assoc)
            bad = s[s["status"] == "timeout"]
            if len(bad):
                ax.plot(bad["n_picks"], np.full(len(bad), limit), "x", color="red", ms=10,
                        mew=2.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of picks (true + false)")
        ax.set_ylabel("runtime of the association call (s)")
        ax.set_title(scenario)
        ax.grid(True, which="both", alpha=0.3)
        for noise, marker in _MARKERS.items():
            ax.plot([], [], marker, color="gray", ls="none", label=f"noise {noise * 100:g} %")
        if (sub["status"] == "timeout").any():
            ax.plot([], [], "x", color="red", ls="none", label="timed out")
        ax.legend(fontsize=8)
    path = out / "runtime_vs_picks.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_figures(df: pd.DataFrame, out: str | Path, timeout: float | None = None) -> list[Path]:
    """All benchmark figures for ``df`` (F1 heat maps and the runtime plot).

    Examples
    --------
    >>> paths = write_figures(results, "benchmark_results")  # doctest: +SKIP
    """
    if not len(df):
        return []
    paths = plot_f1_heatmaps(df, out)
    paths.append(plot_runtime(df, out, timeout=timeout))
    return paths
