"""Tables and figure of ``seisbench-genie benchmark-real`` (see :mod:`.real`).

``results.csv`` is the long table of :func:`seisbench_genie.benchmark.real.score_catalogs`;
``results.md`` holds the readable tables; ``recall_by_magnitude.png`` shows the reference
recall per magnitude bin per catalog next to the events per hour (``events_over_time.png``,
the time histogram alone, without a reference). Every file is written under a temporary name
and renamed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from seisbench_genie.atomic import atomic_write
from seisbench_genie.benchmark.real import (
    BOX_EDGE_KM,
    CLOSE_IN_TIME_S,
    EVENT_PLACES,
    MATCH_DISTANCE_KM,
    MATCH_TIME_S,
    PICK_COUNT_EDGES,
    SMALL_EVENT_PICKS,
    iso_utc,
    magnitude_bin_labels,
    pick_count_bin_labels,
)
from seisbench_genie.benchmark.real_runner import write_csv_atomic

if TYPE_CHECKING:  # pragma: no cover
    from seisbench_genie.benchmark.real_runner import RealBenchmarkConfig, RealBenchmarkResult

#: Columns of the summary table (:func:`summary_frame`) and their headers.
SUMMARY_COLUMNS = {
    "catalog": "catalog",
    "n_events": "events",
    "picks_associated": "picks associated",
    "reference_recall": "reference recall",
    "reference_recall_M>=3": "recall M>=3",
    "median_epicentral_offset_km": "median epi. offset km",
    "median_depth_offset_km": "median depth offset km",
    "confirmed_share": "confirmed share",
    "runtime_s": "runtime s",
}
_COLORS = {"genie": "tab:red", "pyocto": "tab:blue", "gamma": "tab:green",
           "reference": "0.3"}
_EXTRA_COLORS = ("tab:purple", "tab:orange", "tab:brown", "tab:olive", "tab:cyan")


def _value(results: pd.DataFrame, catalog: str, metric: str, bin: str = "") -> float:
    sel = results[(results["catalog"] == catalog) & (results["metric"] == metric)
                  & (results["bin"].fillna("") == bin)]
    return float(sel["value"].iloc[0]) if len(sel) else math.nan


def summary_frame(results: pd.DataFrame) -> pd.DataFrame:
    """One row per catalog with the headline scores (the keys of :data:`SUMMARY_COLUMNS`,
    plus ``kind``, ``status``).

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["genie", "genie"], "kind": ["associator"] * 2,
    ...                     "metric": ["status", "n_events"], "bin": ["", ""],
    ...                     "value": [1.0, 12.0], "note": ["ok", ""]})
    >>> summary_frame(res)[["catalog", "status", "n_events"]].values.tolist()
    [['genie', 'ok', 12.0]]
    """
    top = magnitude_bin_labels()[-1]
    rows = []
    for catalog in pd.unique(results["catalog"]):
        sub = results[results["catalog"] == catalog]
        status = sub[sub["metric"] == "status"]
        row: dict[str, Any] = {
            "catalog": catalog,
            "kind": sub["kind"].iloc[0],
            "status": str(status["note"].iloc[0]).split(":")[0] if len(status) else "ok",
        }
        for key in SUMMARY_COLUMNS:
            if key == "catalog":
                continue
            metric, bin = key, ""
            if key == "reference_recall_M>=3":
                metric, bin = "reference_recall", top
            elif key in ("reference_recall", "picks_associated"):
                bin = "all"
            elif key == "confirmed_share":
                bin = "any"
            row[key] = _value(results, catalog, metric, bin)
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(value: Any, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if column == "n_events":
        return f"{int(value)}"
    if column == "runtime_s":
        return f"{value:.3g}" if value < 100 else f"{value:.0f}"
    if column.endswith("_km"):
        return f"{value:.1f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def summary_markdown(results: pd.DataFrame) -> str:
    """The summary table in Markdown.

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["genie"], "kind": ["associator"], "metric": ["n_events"],
    ...                     "bin": [""], "value": [12.0], "note": [""]})
    >>> print(summary_markdown(res).splitlines()[2])
    | genie | 12 | – | – | – | – | – | – | – |
    """
    summ = summary_frame(results)
    rows = [[_fmt(r[c], c) for c in SUMMARY_COLUMNS] for _, r in summ.iterrows()
            if r["status"] == "ok"]
    return _table(list(SUMMARY_COLUMNS.values()), rows)


def format_summary(results: pd.DataFrame) -> str:
    """The summary as fixed-width text for the terminal.

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["genie"], "kind": ["associator"], "metric": ["n_events"],
    ...                     "bin": [""], "value": [12.0], "note": [""]})
    >>> format_summary(res).split()[:2]
    ['catalog', 'events']
    """
    summ = summary_frame(results)
    short = {"catalog": "catalog", "n_events": "events", "picks_associated": "picks_asc",
             "reference_recall": "recall", "reference_recall_M>=3": "rec_M>=3",
             "median_epicentral_offset_km": "epi_km", "median_depth_offset_km": "depth_km",
             "confirmed_share": "confirmed", "runtime_s": "runtime_s"}
    width = {c: max(len(short[c]), 9) for c in short}
    width["catalog"] = max([12, *(len(str(c)) for c in summ["catalog"])]) if len(summ) else 12
    lines = ["  ".join(f"{short[c]:>{width[c]}}" if c != "catalog" else f"{short[c]:<{width[c]}}"
                       for c in short)]
    for _, r in summ.iterrows():
        if r["status"] != "ok":
            lines.append(f"{r['catalog']:<{width['catalog']}}  {r['status']}")
            continue
        cells = []
        for c in short:
            text = str(r[c]) if c == "catalog" else _fmt(r[c], c)
            cells.append(f"{text:<{width[c]}}" if c == "catalog" else f"{text:>{width[c]}}")
        lines.append("  ".join(cells))
    return "\n".join(lines)


def magnitude_markdown(results: pd.DataFrame, metric: str = "reference_recall") -> str:
    """Reference recall per magnitude bin (``share (found)`` per catalog), or ``""`` without
    a reference; ``metric="reference_near_share"`` for the looser, not one-to-one count.

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["genie"], "kind": ["associator"],
    ...                     "metric": ["reference_recall"], "bin": ["M>=3"], "value": [0.5],
    ...                     "count": [1], "total": [2], "note": [""]})
    >>> "| M>=3 | 2 | 0.50 (1) |" in magnitude_markdown(res)
    True
    """
    rec = results[results["metric"] == metric]
    if not len(rec):
        return ""
    catalogs = list(pd.unique(rec["catalog"]))
    labels = [b for b in ["all", *magnitude_bin_labels(), "no magnitude"]
              if (rec["bin"] == b).any()]
    rows = []
    for label in labels:
        sub = rec[rec["bin"] == label]
        total = sub["total"].dropna()
        row = [label, f"{int(total.iloc[0])}" if len(total) else "–"]
        for c in catalogs:
            r = sub[sub["catalog"] == c]
            row.append(f"{r['value'].iloc[0]:.2f} ({int(r['count'].iloc[0])})" if len(r)
                       else "–")
        rows.append(row)
    return _table(["magnitude", "reference events", *catalogs], rows)


def cross_finding_markdown(results: pd.DataFrame) -> str:
    """Share of each associator's events another associator also finds, by pick count.

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["pyocto"], "kind": ["associator"],
    ...                     "metric": ["also_found_by_genie"], "bin": ["10-12"],
    ...                     "value": [0.5], "count": [5], "total": [10], "note": [""]})
    >>> "| 10-12 | 10 | 0.50 |" in cross_finding_markdown(res)
    True
    """
    cross = results[results["metric"].str.startswith("also_found_by_")]
    if not len(cross):
        return ""
    pairs = list(dict.fromkeys(zip(cross["catalog"], cross["metric"], strict=True)))
    labels = [b for b in ["all", *pick_count_bin_labels(PICK_COUNT_EDGES)]
              if (cross["bin"] == b).any()]
    header = ["picks"]
    for catalog, metric in pairs:
        other = metric.removeprefix("also_found_by_")
        header += [f"{catalog} events", f"share {other} finds"]
    rows = []
    for label in labels:
        row = [label]
        for catalog, metric in pairs:
            r = cross[(cross["catalog"] == catalog) & (cross["metric"] == metric)
                      & (cross["bin"] == label)]
            row += ([f"{int(r['total'].iloc[0])}", f"{r['value'].iloc[0]:.2f}"] if len(r)
                    else ["0", "–"])
        rows.append(row)
    return _table(header, rows)


#: Column headings of :func:`missed_places_markdown`, by place (``real.EVENT_PLACES``).
PLACE_HEADINGS = {
    "outside_stations": "outside the stations",
    "box_edge": f"within {BOX_EDGE_KM:g} km of the box edge",
    "close_in_time": f"another event within {CLOSE_IN_TIME_S:g} s",
    "small": f"{SMALL_EVENT_PICKS[0]}-{SMALL_EVENT_PICKS[1]} picks",
}


def missed_places_markdown(results: pd.DataFrame) -> str:
    """Where the events lie that another associator misses, against those it also finds.

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["pyocto"] * 2, "kind": ["associator"] * 2,
    ...                     "metric": ["missed_by_genie_place", "found_by_genie_place"],
    ...                     "bin": ["outside_stations"] * 2, "value": [0.6, 0.1],
    ...                     "count": [6, 9], "total": [10, 90], "note": [""] * 2})
    >>> print(missed_places_markdown(res).splitlines()[2])
    | pyocto events genie misses | 10 | 0.60 | – | – | – |
    """
    rows_in = results[results["metric"].str.endswith("_place")]
    if not len(rows_in):
        return ""
    rows = []
    for (catalog, metric), group in rows_in.groupby(["catalog", "metric"], sort=False):
        kind, other = metric.removesuffix("_place").split("_by_", 1)
        label = (f"{catalog} events {other} misses" if kind == "missed" else
                 f"{catalog} events {other} also finds")
        total = int(group["total"].iloc[0])
        row = [label, f"{total}"]
        for place in EVENT_PLACES:
            r = group[group["bin"] == place]
            row.append(f"{r['value'].iloc[0]:.2f}" if len(r) and total else "–")
        rows.append(row)
    return _table(["events", "count", *(PLACE_HEADINGS[p] for p in EVENT_PLACES)], rows)


def stage_losses_markdown(tables: Mapping[str, pd.DataFrame]) -> str:
    """Per other associator, its small events by the GENIE stage where they are lost (the
    stages of the first round; events a later round found count as kept, and a column says
    how many), and the detection losses by cause
    (:func:`~seisbench_genie.benchmark.stage_losses.loss_summary`).

    Examples
    --------
    >>> t = pd.DataFrame({"lost_at": ["kept", "detection", "kept"],
    ...                   "detection_cause": ["", "node grid", ""],
    ...                   "field_at_hypocentre": [0.7, 0.5, 0.6]})
    >>> print(stage_losses_markdown({"pyocto": t}).splitlines()[2])
    | pyocto | 3 | 2 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 0 | 0 |
    """
    from seisbench_genie.benchmark.stage_losses import (
        DETECTION_CAUSES,
        LOSS_STAGES,
        loss_summary,
    )

    lost_stages = [s for s in LOSS_STAGES if s != "kept"]
    late = any("found_late" in t for t in tables.values())
    rows = []
    for name, table in tables.items():
        summary = loss_summary(table)
        found_late = ([int(summary.loc["kept", "found_late"]) if "found_late" in summary
                       else 0] if late else [])
        rows.append([name, len(table), int(summary.loc["kept", "events"]), *found_late,
                     *(int(summary.loc[s, "events"]) for s in lost_stages),
                     *(int(summary.loc["detection", f"detection: {c}"])
                       if f"detection: {c}" in summary else 0 for c in DETECTION_CAUSES)])
    if not rows:
        return ""
    return _table(["associator", "small events", "kept",
                   *(["of which found late (a later round or the merge)"] if late else []),
                   *(f"lost at {s}" for s in lost_stages),
                   *(f"detection: {c}" for c in DETECTION_CAUSES)], rows)


def assignment_losses_markdown(tables: Mapping[str, pd.DataFrame]) -> str:
    """Per other associator, its small events GENIE lost at the competitive assignment: the
    median picks GENIE's source linked in all after the second pass, and where the event's
    picks that source lacked went (linked to no source, or to another one), summed.

    Examples
    --------
    >>> t = pd.DataFrame({"lost_at": ["assignment", "assignment", "kept"],
    ...                   "second_pass_source_picks": [9, 8, 14],
    ...                   "second_pass_unlinked": [2, 1, 0], "second_pass_elsewhere": [0, 1, 0]})
    >>> print(assignment_losses_markdown({"pyocto": t}).splitlines()[2])
    | pyocto | 2 | 8.5 | 3 | 1 |
    """
    rows = []
    for name, table in tables.items():
        if "second_pass_source_picks" not in table:
            continue
        lost = table[table["lost_at"] == "assignment"]
        if not len(lost):
            continue
        rows.append([name, len(lost), f"{lost['second_pass_source_picks'].median():g}",
                     int(lost["second_pass_unlinked"].sum()),
                     int(lost["second_pass_elsewhere"].sum())])
    if not rows:
        return ""
    return _table(["associator", "lost at assignment", "median picks of GENIE's source",
                   "event picks linked to no source", "event picks linked to another source"],
                  rows)


def confirmation_markdown(results: pd.DataFrame) -> str:
    """Share of each catalog's events near an event of any / each other catalog.

    Examples
    --------
    >>> res = pd.DataFrame({"catalog": ["genie", "genie"], "kind": ["associator"] * 2,
    ...                     "metric": ["confirmed_share"] * 2, "bin": ["any", "pyocto"],
    ...                     "value": [0.9, 0.8], "count": [9, 8], "total": [10, 10],
    ...                     "note": ["", ""]})
    >>> "| genie | 0.90 | 0.80 |" in confirmation_markdown(res)
    True
    """
    conf = results[results["metric"] == "confirmed_share"]
    if not len(conf):
        return ""
    order = list(pd.unique(results["catalog"]))
    others = sorted((b for b in pd.unique(conf["bin"]) if b != "any"),
                    key=lambda b: order.index(b) if b in order else len(order))
    rows = []
    for catalog in pd.unique(conf["catalog"]):
        sub = conf[conf["catalog"] == catalog]
        row = [catalog]
        for b in ["any", *others]:
            r = sub[sub["bin"] == b]
            row.append(f"{r['value'].iloc[0]:.2f}" if len(r) else "–")
        rows.append(row)
    return _table(["catalog", "any other", *[f"by {o}" for o in others]], rows)


def results_markdown(result: RealBenchmarkResult, config: RealBenchmarkConfig) -> str:
    """The Markdown report of a ``benchmark-real`` run.

    Examples
    --------
    >>> text = results_markdown(result, config)  # doctest: +SKIP
    """
    from seisbench_genie.benchmark.peers import pyocto_config
    from seisbench_genie.benchmark.real_runner import genie_settings, pyocto_settings
    from seisbench_genie.benchmark.report import machine_description

    ds = result.dataset
    res = result.results
    t0, t1 = iso_utc(ds.time_span)
    reg = ds.region
    n_st = len(ds.stations)
    lines = [
        "# Associators on real picks\n",
        f"Picks: `{ds.sources['picks']}` ({len(ds.picks)} of {ds.n_file_picks} picks used, "
        f"{n_st} stations of `{ds.sources['stations']}`, {t0} to {t1}). Velocity model: "
        f"`{ds.sources['velocity_model']}` (layer tops "
        f"{', '.join(f'{d:g}' for d in ds.velocity_model['depth_km'])} km).",
        "",
        f"Search volume (every associator): latitude {reg['latitude'][0]:.3f} to "
        f"{reg['latitude'][1]:.3f}, longitude {reg['longitude'][0]:.3f} to "
        f"{reg['longitude'][1]:.3f} (stations with picks +- {config.region_margin_km:g} km), "
        f"depth {reg['depth_km'][0]:g}-{reg['depth_km'][1]:g} km. Minimum rules: "
        f"{config.min_picks} picks, {config.min_p_and_s_stations} stations with P and S.",
        "",
    ]
    if "genie" in config.associators:
        lines += [f"GENIE: model `{config.genie_model}`, `classify` arguments "
                  f"`{genie_settings(config)}`.", ""]
    if "pyocto" in config.associators:
        pyocto, _ = pyocto_config(ds.name, ds.region, ds.velocity_model, ds.stations,
                                  threads=config.threads, overrides=pyocto_settings(config))
        lines += [f"PyOcto: `OctoAssociator` `{pyocto['associator']}`, `VelocityModel1D` "
                  f"`{pyocto['velocity_model']}`, table `{pyocto['table']}` (the synthetic "
                  "benchmark's settings but for the minimum rules and tolerances; see "
                  "`docs/benchmarks.md`, Peers).", ""]
    if result.reference is not None:
        r0, r1 = iso_utc([result.reference["time"].min(), result.reference["time"].max()])
        lines += [
            f"Reference: `{config.reference}`, {len(result.reference)} events in the picks' "
            f"time span; recall is scored over the reference's own span only ({r0} to {r1}). "
            f"A reference event counts as found when an event lies within "
            f"{config.max_dt_s:g} s and {config.max_distance_km:g} km (epicentral) of it, "
            "one-to-one.",
            "",
        ]
    compare = [e for e in result.entries if e.kind == "compare"]
    if compare:
        lines += ["Other catalogs: " + ", ".join(f"{e.name} (`{e.source}`)" for e in compare)
                  + ".", ""]
    lines += [
        f"Machine: {machine_description()}; {config.threads} thread(s) per associator. "
        "Runtime is the wall time of the association call only.",
        "",
        "## Summary\n",
        "Picks associated: share of the picks given that the associator put into an event. "
        f"Confirmed share (\"no inflation\"): share of the catalog's events within "
        f"{config.max_dt_s:g} s and {config.max_distance_km:g} km of an event of any other "
        "catalog. Offsets are medians over matched reference events.",
        "",
        summary_markdown(res),
        "",
    ]
    mag = magnitude_markdown(res)
    if mag:
        lines += ["## Reference recall by magnitude\n",
                  "Recall (reference events found, one-to-one).", "", mag, "",
                  "Without the one-to-one rule (a reference event with any event near it; "
                  "two reference events may share one event):", "",
                  magnitude_markdown(res, "reference_near_share"), ""]
    inside = res[(res["metric"] == "reference_recall_in_region") & (res["bin"] == "all")]
    every = res[(res["metric"] == "reference_recall") & (res["bin"] == "all")]
    if len(inside) and len(every) and inside["total"].iloc[0] < every["total"].iloc[0]:
        lines += ["## Reference recall inside the search volume\n",
                  f"{int(inside['total'].iloc[0])} of {int(every['total'].iloc[0])} reference "
                  "events lie inside the search volume the associators were given (the "
                  "stations' box widened by the margin, the depth range). The recall of those "
                  "alone, with the same one-to-one matches as above: an associator that puts "
                  "events from outside the volume on its edge still matches the reference "
                  f"events up to {config.max_distance_km:g} km outside it, one that leaves "
                  "them out does not. A wider `--region-margin-km` searches farther for both.",
                  "", magnitude_markdown(res, "reference_recall_in_region"), ""]
    cross = cross_finding_markdown(res)
    if cross:
        lines += ["## Events one associator finds that another also finds\n",
                  f"By the first associator's pick count; found = an event of the other "
                  f"within {config.max_dt_s:g} s.", "", cross, ""]
    places = missed_places_markdown(res)
    if places:
        lines += ["## Where the events lie that another associator misses\n",
                  "Share of each group of events that lies outside the convex hull of the "
                  "stations, near the edge of the search box (or outside it), within "
                  f"{CLOSE_IN_TIME_S:g} s of another event of the same catalog, or holds "
                  f"{SMALL_EVENT_PICKS[0]}-{SMALL_EVENT_PICKS[1]} picks; missed = no event "
                  f"of the other within {config.max_dt_s:g} s. Where an associator's missed "
                  "events lie far more often outside the network or near the box edge than "
                  "those it shares, the difference is the search volume, not the "
                  "association.", "", places, ""]
    stages = stage_losses_markdown(result.stage_losses)
    if stages:
        lines += ["## Where GENIE loses the small events another associator finds\n",
                  f"Each other associator's events with {SMALL_EVENT_PICKS[0]}-"
                  f"{SMALL_EVENT_PICKS[1]} picks, followed through GENIE's stages with that "
                  "associator's picks as the event's: an event is lost at the first stage "
                  "where no GENIE source holds half of its picks (`kept`: GENIE's catalog "
                  "holds them). Detection losses by cause: `node grid`, the network's field "
                  "reaches the threshold at the other associator's hypocentre but not at "
                  "GENIE's nodes near it; `neighbour`, a stronger event next to it took the "
                  "peak; `crowded`, other events' picks hide it; `network`, the field stays "
                  "below the threshold even there (`benchmark.stage_losses`). Tables in "
                  "`stage_losses_<associator>.csv`.", "", stages, ""]
        lost_links = assignment_losses_markdown(result.stage_losses)
        if lost_links:
            lines += ["The events lost at the assignment, after the second association pass: "
                      "a source below the minimum rules there is dropped. Picks linked to no "
                      "source were scored below `association_threshold` by the association "
                      "head (or lie outside the pass's tolerance); picks linked to another "
                      "source went to a competing event. Many of the first point to the "
                      "threshold (docs/benchmarks.md, \"The 64 lost at assignment are lost at "
                      "linking\"), many of the second to events too close to separate.", "",
                      lost_links, ""]
    conf = confirmation_markdown(res)
    if conf:
        lines += ["## Confirmed by other catalogs\n", conf, ""]
    failed = [e for e in result.entries if not e.ok]
    if failed:
        lines.append("## Failed runs\n")
        for e in failed:
            msg = e.message.strip().splitlines()
            lines.append(f"- {e.name}: {e.status} – {msg[0] if msg else ''}")
        lines.append("")
    if ds.notes:
        lines.append("## Notes\n")
        lines += [f"- {n}" for n in ds.notes]
        lines.append("")
    return "\n".join(lines)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def plot_real(result: RealBenchmarkResult, path: str | Path, *,
              max_dt_s: float = MATCH_TIME_S,
              max_distance_km: float = MATCH_DISTANCE_KM) -> Path:
    """Recall per magnitude bin per catalog (with a reference) and events per hour.

    Parameters
    ----------
    result
        The run.
    path
        PNG file to write (through a temporary name).
    max_dt_s, max_distance_km
        The matching rule (s, km), for the title.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> plot_real(result, "out/recall_by_magnitude.png")  # doctest: +SKIP
    """
    plt = _pyplot()
    path = Path(path)
    ok = [e for e in result.entries if e.ok]
    colors = {}
    extra = iter(_EXTRA_COLORS)
    for e in ok:
        colors[e.name] = _COLORS.get(e.name) or next(extra, "0.5")
    res = result.results
    with_ref = result.reference is not None
    fig, axes = plt.subplots(1, 2 if with_ref else 1, figsize=(10, 3.6) if with_ref else (6, 3.6),
                             squeeze=False)
    axes = axes[0]
    if with_ref:
        ax = axes[0]
        rec = res[res["metric"] == "reference_recall"]
        labels = [b for b in ["all", *magnitude_bin_labels()] if (rec["bin"] == b).any()]
        names = [e.name for e in ok if (rec["catalog"] == e.name).any()]
        width = 0.8 / max(len(names), 1)
        x = np.arange(len(labels))
        for i, name in enumerate(names):
            vals = [_value(res, name, "reference_recall", b) for b in labels]
            ax.bar(x + (i - (len(names) - 1) / 2) * width, vals, width, label=name,
                   color=colors[name])
        totals = [rec[rec["bin"] == b]["total"].dropna() for b in labels]
        ax.set_xticks(x, [f"{b}\n(n={int(t.iloc[0])})" if len(t) else b
                          for b, t in zip(labels, totals, strict=True)], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("recall of the reference")
        ax.set_title(f"Reference events found ({max_dt_s:g} s, {max_distance_km:g} km, "
                     "one-to-one)", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        ax.grid(axis="y", alpha=0.3)
    ax = axes[-1]
    t0, t1 = result.dataset.time_span
    edges = np.arange(t0, t1 + 3600.0, 3600.0)
    hours = (edges[:-1] - t0) / 3600.0
    for e in ok:
        counts, _ = np.histogram(e.events["time"].to_numpy(float), edges)
        ax.step(hours, counts, where="post", color=colors[e.name], label=e.name, lw=1.0)
    if with_ref:
        ref_counts, _ = np.histogram(result.reference["time"].to_numpy(float), edges)
        ax.step(hours, ref_counts, where="post", color=_COLORS["reference"], lw=1.0, ls="--",
                label="reference")
    ax.set_xlabel(f"hours after {iso_utc([t0])[0][:16]} UTC")
    ax.set_ylabel("events per hour")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    finally:
        plt.close(fig)


def write_real_outputs(result: RealBenchmarkResult, config: RealBenchmarkConfig) -> list[Path]:
    """Write ``results.csv``, ``results.md`` and the figure into ``config.out``.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> write_real_outputs(result, config)  # doctest: +SKIP
    """
    out = Path(config.out)
    files = [write_csv_atomic(result.results, out / "results.csv")]
    md = out / "results.md"
    files.append(atomic_write(md, lambda tmp: tmp.write_text(results_markdown(result,
                                                                               config))))
    if config.figures and any(e.ok for e in result.entries):
        name = "recall_by_magnitude.png" if result.reference is not None else \
            "events_over_time.png"
        files.append(plot_real(result, out / name, max_dt_s=config.max_dt_s,
                               max_distance_km=config.max_distance_km))
    return files
