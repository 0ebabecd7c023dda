"""Results tables of the benchmark: CSV, Markdown and the compact progress table on stdout."""

from __future__ import annotations

import math
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

SCORE_COLUMNS = [
    "event_precision",
    "event_recall",
    "event_f1",
    "n_true_events",
    "n_pred_events",
    "n_matched",
    "pick_precision",
    "pick_recall",
    "pick_f1",
    "missed_picks_per_event",
    "false_picks_per_event",
    "wrong_picks_per_event",
    "epicentral_error_km",
    "depth_error_km",
    "origin_time_error_s",
]
#: Column order of ``results.csv`` (unknown extra columns follow, ``message`` is last).
RESULT_COLUMNS = [
    "associator",
    "scenario",
    "n_events",
    "noise",
    "tt_noise_lo",
    "tt_noise_hi",
    "out_of_network",
    "pick_removal",
    "seed",
    "cell",
    "n_picks",
    "n_true_picks",
    "n_false_picks",
    "status",
    "wall_s",
    "peak_mb",
    "peak_children_mb",
    "cpu_s",
    "load_1min",
    "process_s",
    "setup_s",
    "catalog_s",
    "n_duplicate_assignments",
    *SCORE_COLUMNS,
    "message",
]
_ASSOC_ORDER = {"genie": 0, "pyocto": 1, "gamma": 2}
_MD_HEADERS = {
    "associator": "associator",
    "cell": "scenario cell",
    "n_picks": "picks",
    "status": "status",
    "event_precision": "event P",
    "event_recall": "event R",
    "event_f1": "event F1",
    "n_true_events": "true ev.",
    "n_pred_events": "pred. ev.",
    "n_matched": "matched",
    "n_duplicate_assignments": "dup. asg.",
    "pick_precision": "pick P",
    "pick_recall": "pick R",
    "pick_f1": "pick F1",
    "missed_picks_per_event": "missed/ev.",
    "false_picks_per_event": "false/ev.",
    "wrong_picks_per_event": "wrong/ev.",
    "epicentral_error_km": "epi. err. km",
    "depth_error_km": "depth err. km",
    "origin_time_error_s": "OT err. s",
    "wall_s": "runtime s",
    "cpu_s": "CPU s",
    "peak_mb": "peak MB",
    "peak_children_mb": "children peak MB",
    "load_1min": "load",
}


def order_results(df: pd.DataFrame) -> pd.DataFrame:
    """Sort rows by scenario and cell, associators as genie, pyocto, gamma; order columns.

    Examples
    --------
    >>> df = pd.DataFrame({"associator": ["gamma", "pyocto"], "scenario": ["crustal"] * 2,
    ...                    "n_events": [100, 100], "noise": [0.3, 0.3]})
    >>> order_results(df)["associator"].tolist()
    ['pyocto', 'gamma']
    """
    if not len(df):
        return df
    df = df.copy()
    sort_cols = [
        c
        for c in ("scenario", "tt_noise_lo", "tt_noise_hi", "out_of_network", "pick_removal",
                  "n_events", "noise", "seed")
        if c in df
    ]
    df["_a"] = df["associator"].map(_ASSOC_ORDER).fillna(len(_ASSOC_ORDER))
    df = df.sort_values(sort_cols + ["_a", "associator"], kind="stable").drop(columns="_a")
    cols = [c for c in RESULT_COLUMNS if c in df and c != "message"]
    cols += [c for c in df.columns if c not in cols and c != "message"]
    if "message" in df:
        cols.append("message")
    return df[cols].reset_index(drop=True)


def _fmt(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if column in ("n_picks", "n_true_events", "n_pred_events", "n_matched", "n_events"):
        return f"{int(value)}"
    if column in ("wall_s", "process_s", "setup_s", "cpu_s", "catalog_s"):
        return f"{value:.3g}" if value < 100 else f"{value:.0f}"
    if column == "load_1min":
        return f"{value:.1f}"
    if column in ("peak_mb", "peak_children_mb"):
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def markdown_table(
    df: pd.DataFrame, columns: Sequence[str], headers: Sequence[str] | None = None
) -> str:
    """A GitHub-flavoured Markdown table of ``df[columns]`` with compact number formats.

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.0], "b": ["x"]}), ["a", "b"]))
    | a | b |
    |---|---|
    | 1.000 | x |
    """
    headers = list(headers or columns)
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    for _, row in df.iterrows():
        cells = [_fmt(row.get(c), c).replace("|", "\\|").replace("\n", " ") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_description() -> str:
    """One line describing this machine (CPU model, cores, OS, Python).

    Examples
    --------
    >>> "cores" in machine_description()
    True
    """
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, no GPU used, {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def _variant_groups(df: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    keys = [c for c in ("scenario", "tt_noise_lo", "tt_noise_hi", "out_of_network",
                        "pick_removal", "seed") if c in df]
    groups = []
    for vals, sub in df.groupby(keys, sort=True):
        d = dict(zip(keys, vals, strict=True))
        title = str(d["scenario"])
        extra = []
        if (d.get("tt_noise_lo", 0.0), d.get("tt_noise_hi", 0.01)) != (0.0, 0.01):
            extra.append(f"tt noise {d['tt_noise_lo']:g}–{d['tt_noise_hi']:g}")
        if d.get("out_of_network", 0):
            extra.append(f"{int(d['out_of_network'])} out-of-network events")
        if d.get("pick_removal", 0.0):
            extra.append(f"{d['pick_removal']:g} picks removed")
        if extra:
            title += " (" + ", ".join(extra) + ")"
        groups.append((title, sub))
    return groups


def f1_pivot_markdown(df: pd.DataFrame) -> str:
    """Event-F1 tables (events x noise per associator) for every scenario variant.

    Examples
    --------
    >>> df = pd.DataFrame({"associator": ["pyocto"], "scenario": ["crustal"], "n_events": [100],
    ...                    "noise": [0.3], "event_f1": [0.99], "status": ["ok"]})
    >>> "| 100 | 0.990 |" in f1_pivot_markdown(df)
    True
    """
    parts = []
    for title, sub in _variant_groups(df):
        noises = sorted(sub["noise"].unique())
        parts.append(f"### Event F1 – {title}\n")
        header = ["associator", "events"] + [f"noise {z:g}" for z in noises]
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for assoc in sorted(sub["associator"].unique(), key=lambda a: _ASSOC_ORDER.get(a, 9)):
            s = sub[sub["associator"] == assoc]
            for n in sorted(s["n_events"].unique()):
                cells = [assoc, str(int(n))]
                for z in noises:
                    r = s[(s["n_events"] == n) & (s["noise"] == z)]
                    if not len(r):
                        cells.append("")
                    elif r["status"].iloc[0] != "ok":
                        cells.append(str(r["status"].iloc[0]))
                    else:
                        cells.append(f"{r['event_f1'].iloc[0]:.3f}")
                lines.append("| " + " | ".join(cells) + " |")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def results_markdown(df: pd.DataFrame, title: str = "Association benchmark") -> str:
    """The Markdown report: machine, one row per scenario x associator, F1 pivots, failures.

    Examples
    --------
    >>> df = pd.DataFrame({"associator": ["pyocto"], "scenario": ["crustal"], "n_events": [100],
    ...                    "noise": [0.3], "cell": ["crustal_100_0.3"], "event_f1": [0.99],
    ...                    "status": ["ok"], "message": [""]})
    >>> "crustal_100_0.3" in results_markdown(df)
    True
    """
    cols = [c for c in _MD_HEADERS if c in df]
    text = [
        f"# {title}\n",
        f"Machine: {machine_description()}.\n",
        "Runtime is the wall time of the association call only (no travel-time tables, model "
        "loading or file I/O); peak MB is the associator process's peak RSS "
        "(`getrusage(RUSAGE_SELF).ru_maxrss`); children peak MB is the largest worker process "
        "(GaMMA's multiprocessing pool); CPU s is the user + system CPU time of the call "
        "(workers included); load is the 1-min load average after the run (values well above "
        "the thread count mean other processes competed for the cores). Scores after Puente et "
        "al. (2025), section 3.3.\n",
        markdown_table(df, cols, [_MD_HEADERS[c] for c in cols]),
        "",
        f1_pivot_markdown(df) if {"n_events", "noise", "event_f1"} <= set(df.columns) else "",
    ]
    bad = df[df["status"] != "ok"] if "status" in df else df.iloc[0:0]
    if len(bad):
        text.append("### Failed or timed-out runs\n")
        for _, r in bad.iterrows():
            msg = str(r.get("message", "")).strip().splitlines()
            first = msg[0] if msg else ""
            last = msg[-1] if len(msg) > 1 else ""
            text.append(f"- {r['associator']} / {r['cell']}: {r['status']} – {first} {last}".strip())
        text.append("")
    return "\n".join(text)


def write_results(df: pd.DataFrame, out: str | Path) -> tuple[Path, Path]:
    """Write ``results.csv`` and ``results.md`` into ``out``.

    Parameters
    ----------
    df
        Result rows (see :func:`seisbench_genie.benchmark.runner.run_one`).
    out
        Output directory (created if missing).

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The CSV and Markdown paths.

    Examples
    --------
    >>> import tempfile
    >>> df = pd.DataFrame({"associator": ["pyocto"], "scenario": ["crustal"], "n_events": [100],
    ...                    "noise": [0.3], "cell": ["crustal_100_0.3"], "status": ["ok"]})
    >>> csv, md = write_results(df, tempfile.mkdtemp())
    >>> csv.name, md.name
    ('results.csv', 'results.md')
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df = order_results(df)
    csv_path = out / "results.csv"
    md_path = out / "results.md"
    tmp = csv_path.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(csv_path)
    md_path.write_text(results_markdown(df))
    return csv_path, md_path


class ProgressPrinter:
    """Prints the compact progress table, one line per finished run.

    Examples
    --------
    >>> import io
    >>> buf = io.StringIO()
    >>> p = ProgressPrinter(buf)
    >>> p.row({"associator": "pyocto", "cell": "crustal_100_0.3", "status": "ok",
    ...        "event_f1": 0.99, "event_precision": 1.0, "event_recall": 0.98,
    ...        "wall_s": 0.5, "peak_mb": 80.0, "n_picks": 3000})
    >>> "pyocto" in buf.getvalue()
    True
    """

    FORMAT = "{:<8} {:<34} {:>7} {:>7} {:>7} {:>7} {:>10} {:>9}  {}"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = sys.stdout if stream is None else stream
        self.n = 0

    def _print(self, line: str) -> None:
        print(line, file=self.stream, flush=True)

    def header(self, n_runs: int, config: Any = None) -> None:
        """Print the table header (``n_runs`` runs planned)."""
        threads = getattr(config, "threads", None)
        extra = f", {threads} threads" if threads else ""
        self._print(f"# {n_runs} runs planned{extra}")
        self._print(
            self.FORMAT.format(
                "assoc", "scenario cell", "picks", "F1", "prec", "recall", "runtime_s", "peak_MB",
                "status",
            )
        )

    def row(self, row: dict[str, Any]) -> None:
        """Print one finished run."""
        self.n += 1

        def f(key: str, fmt: str) -> str:
            v = row.get(key)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return "-"
            return format(int(v), fmt) if fmt == "d" else format(float(v), fmt)

        status = row.get("status", "")
        if status != "ok":
            msg = str(row.get("message", "")).strip().splitlines()
            status = f"{status}: {msg[0][:100] if msg else ''}"
        self._print(
            self.FORMAT.format(
                row.get("associator", ""),
                row.get("cell", ""),
                f("n_picks", "d"),
                f("event_f1", ".3f"),
                f("event_precision", ".3f"),
                f("event_recall", ".3f"),
                f("wall_s", ".2f"),
                f("peak_mb", ".0f"),
                status,
            )
        )

    def footer(self) -> None:
        """Print the closing line."""
        self._print(f"# {self.n} runs done")
