"""Synthetic days with what real picks have, written as files for ``benchmark-real`` and
scored against their ground truth.

The days come from a model's own training generator (``TrainingConfig.generator``) with every
event detected by the Gutenberg-Richter magnitude law (small events seen by the nearest
stations only, aftershock sequences, station delays, picker artefacts), one hour each, on
networks of 40-70 stations. ``benchmark-real`` runs the associators on them exactly as on
real picks; :func:`score_runs` then scores each associator's assignments against the truth
with :func:`seisbench_genie.metrics.evaluate` (event precision, recall and F1, and the recall
of the small events: 10-15 picks).

Usage::

    python -m seisbench_genie.benchmark.realistic_days write pretrained/crustal.yaml DAYS \\
        --seeds 40001-40012
    for d in DAYS/day*; do seisbench-genie benchmark-real --picks $d/picks.csv \\
        --stations $d/stations.csv --velocity-model $d/velocity_model.csv \\
        --reference $d/reference.csv --associators genie,pyocto --genie-model crustal \\
        --min-picks 10 --min-p-and-s-stations 4 --threads 1 --out RUNS/$(basename $d); done
    python -m seisbench_genie.benchmark.realistic_days score DAYS RUNS

``losses DAYS [--runs RUNS]`` follows each small event through the association's stages and
tells where it is lost (:mod:`seisbench_genie.benchmark.stage_losses`); with ``--runs``, also
whether PyOcto found it.

``write --set NAME=LO,HI`` overrides a range of the generator (a field of
:class:`~seisbench_genie.synthetic.training.SyntheticDayConfig`), for example quieter days with
the false-pick rates of a deep-learning picker and a dense aftershock network::

    python -m seisbench_genie.benchmark.realistic_days write pretrained/crustal.yaml DAYS \\
        --seeds 42001-42008 --set false_pick_rate_per_station_hour=0,20 --set bursts=0,0 \\
        --set regional_arrivals_per_hour=0,2 --set aperture_km=30,80

``write --event-picks-only`` writes the same days with only the picks of events: what a
picker whose probability told every artefact apart would give, an upper bound on what a
pick-probability filter or weight can gain. ``write --pick-filter A,E`` models a real filter
(a higher picker threshold, say): it removes a share A of the picks of no event and a share E
of the events' picks, at random.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.metrics import evaluate
from seisbench_genie.picks import times_to_posix

#: Stations per day: the size of a dense regional or aftershock network (the real day that
#: motivated these checks had 60 stations).
N_STATIONS = (40, 70)
#: Event rate range (events per hour of all magnitudes, most below detection) of the days.
#: High enough that each hour holds tens of detectable events.
EVENT_RATE_PER_HOUR = (1000.0, 4000.0)
DAY_DURATION_S = 3600.0
#: Reference events for ``benchmark-real`` carry this placeholder magnitude (the generator
#: draws magnitudes only to decide detection).
PLACEHOLDER_MAGNITUDE = 1.0
#: Pick counts of the "small" events whose recall is reported on its own.
SMALL_EVENT_PICKS = (10, 15)


def _iso(posix_s: pd.Series) -> pd.Series:
    return pd.to_datetime(posix_s, unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


def write_days(config_path: str | Path, out_dir: str | Path, seeds: Sequence[int],
               overrides: Mapping[str, tuple[float, float]] | None = None,
               pick_filter: tuple[float, float] | None = None) -> list[Path]:
    """Write one folder per seed with ``picks.csv``, ``stations.csv``, ``velocity_model.csv``,
    ``reference.csv`` (in-network events) and the truth (``truth_picks.csv``,
    ``truth_events.csv``).

    ``overrides`` replaces ranges of the generator (fields of
    :class:`~seisbench_genie.synthetic.training.SyntheticDayConfig`, given as (low, high)).
    ``pick_filter`` (a, e) removes from the same days a share ``a`` of the picks of no event
    (false picks, coda picks, duplicates, regional arrivals) and a share ``e`` of the events'
    picks, drawn at random with the day's seed: the input of a picker-probability filter
    that tells artefacts apart that well. (1, 0) keeps only the events' picks, an upper
    bound on what a pick-probability filter or weight can gain. The kept picks keep their
    errors and wrong phase labels; ``truth_events.csv`` then also holds each event's pick
    count before the filter (``picks_before_filter``), by which :func:`score_runs` picks the
    small events, so that they are the same earthquakes with and without the filter.

    Examples
    --------
    >>> # write_days("pretrained/crustal.yaml", "days", [40001, 40002],
    >>> #            {"false_pick_rate_per_station_hour": (0.0, 20.0)})
    """
    import yaml

    from seisbench_genie.training.config import TrainingConfig
    from seisbench_genie.training.validation import validation_day

    if pick_filter is not None:
        pick_filter = (float(pick_filter[0]), float(pick_filter[1]))
        if not all(0.0 <= share <= 1.0 for share in pick_filter):
            raise ValueError(f"pick_filter: shares must lie in [0, 1], got {pick_filter}")
    config = TrainingConfig.from_dict(yaml.safe_load(Path(config_path).read_text()))
    generator = dataclasses.replace(config.generator, magnitude_detection_fraction=1.0,
                                    n_stations=N_STATIONS,
                                    magnitude_event_rate_per_hour=EVENT_RATE_PER_HOUR)
    if overrides:
        generator = dataclasses.replace(generator, **_generator_ranges(generator, overrides))
    config = dataclasses.replace(config, generator=generator)
    folders = []
    for seed in seeds:
        picks, stations, events, model = validation_day(config, seed, DAY_DURATION_S)
        if pick_filter is not None:
            # The small events stay those of the unfiltered day (the same earthquakes).
            events = events.assign(picks_before_filter=np.bincount(
                picks["event"][picks["event"] >= 0], minlength=len(events)))
            picks = _filtered(picks, pick_filter, seed)
        folder = Path(out_dir) / f"day{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        table = picks.assign(time=_iso(picks["time"]))
        table[["station", "phase", "time"]].to_csv(folder / "picks.csv", index=False)
        table.to_csv(folder / "truth_picks.csv", index=False)
        stations[["id", "latitude", "longitude", "elevation"]].to_csv(
            folder / "stations.csv", index=False)
        model.to_csv(folder / "velocity_model.csv", index=False)
        events.to_csv(folder / "truth_events.csv", index=False)
        reference = events[events["in_network"]].assign(
            time=lambda e: _iso(e["time"]), magnitude=PLACEHOLDER_MAGNITUDE)
        reference[["time", "magnitude", "latitude", "longitude", "depth_km"]].to_csv(
            folder / "reference.csv", index=False)
        folders.append(folder)
    return folders


def _filtered(picks: pd.DataFrame, pick_filter: tuple[float, float], seed: int
              ) -> pd.DataFrame:
    """``picks`` without a random share ``pick_filter[0]`` of the picks of no event and
    ``pick_filter[1]`` of the events' picks (shares in [0, 1])."""
    artefacts, event_picks = pick_filter
    share = np.where(picks["event"].to_numpy() >= 0, event_picks, artefacts)
    removed = np.random.default_rng(seed).random(len(picks)) < share
    return picks[~removed].reset_index(drop=True)


def _generator_ranges(generator: Any, overrides: Mapping[str, tuple[float, float]]
                      ) -> dict[str, tuple[Any, Any]]:
    """``overrides`` checked against the generator's range fields, typed as the defaults
    (the generator's own validation then checks each range)."""
    names = {f.name for f in dataclasses.fields(generator)}
    out = {}
    for name, (lo, hi) in overrides.items():
        default = getattr(generator, name, None) if name in names else None
        if not (isinstance(default, tuple) and len(default) == 2):
            ranges = sorted(n for n in names if isinstance(getattr(generator, n), tuple)
                            and len(getattr(generator, n)) == 2)
            raise ValueError(f"--set {name}: not a (low, high) range of the generator; "
                             f"ranges: {', '.join(ranges)}")
        kind = type(default[0])
        out[name] = (kind(lo), kind(hi))
    return out


def _range_setting(text: str) -> tuple[str, tuple[float, float]]:
    """``NAME=LO,HI`` from the command line."""
    name, sep, values = text.partition("=")
    parts = values.split(",")
    try:
        if not sep or len(parts) != 2:
            raise ValueError
        return name.strip(), (float(parts[0]), float(parts[1]))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=LOW,HIGH, got {text!r}") from None


def score_runs(days_dir: str | Path, runs_dir: str | Path) -> pd.DataFrame:
    """Score every associator output of ``runs_dir/<day>/<associator>/`` against the truth
    of ``days_dir/<day>/``; one row per associator (days pooled).

    Examples
    --------
    >>> # score_runs("days", "runs")[["event_precision", "event_recall"]]
    """
    rows = []
    for day in sorted(Path(days_dir).glob("day*")):
        picks = pd.read_csv(day / "truth_picks.csv")
        picks["time"] = times_to_posix(picks["time"])
        events = pd.read_csv(day / "truth_events.csv")
        n_picks = (events["picks_before_filter"].to_numpy() if "picks_before_filter" in events
                   else np.bincount(picks["event"][picks["event"] >= 0], minlength=len(events)))
        lo, hi = SMALL_EVENT_PICKS
        small = events["in_network"] & (n_picks >= lo) & (n_picks <= hi)
        for run in sorted((Path(runs_dir) / day.name).glob("*/assignments.csv")):
            assignments = pd.read_csv(run)
            predicted = pd.read_csv(run.with_name("events.csv"))
            for frame in (assignments, predicted):
                frame["time"] = times_to_posix(frame["time"])
            score = evaluate(picks, assignments, events, predicted)
            small_score = evaluate(picks, assignments, events.assign(
                in_network=small), predicted)
            rows.append({"associator": run.parent.name, "day": day.name,
                         "true_events": score.n_true_events, "events": score.n_pred_events,
                         "matched": score.n_matched, "small_events": int(small.sum()),
                         "small_matched": small_score.n_matched})
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError(f"no associator outputs under {runs_dir} for the days of {days_dir}")
    pooled = table.groupby("associator")[["true_events", "events", "matched", "small_events",
                                          "small_matched"]].sum()
    pooled["days"] = table.groupby("associator").size()
    pooled["event_recall"] = pooled["matched"] / pooled["true_events"]
    pooled["event_precision"] = pooled["matched"] / pooled["events"]
    pooled["small_event_recall"] = pooled["small_matched"] / pooled["small_events"]
    return pooled


def _shares(text: str) -> tuple[float, float]:
    """``A,E``: two numbers (:func:`write_days` checks that they are shares)."""
    try:
        a, e = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A,E (two shares 0-1), got {text!r}"
                                         ) from None
    return a, e


def _classify_setting(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` for a keyword of ``GENIE.classify``, parsed as ``benchmark-real``'s
    ``--set genie.NAME=VALUE``."""
    from seisbench_genie.benchmark.cli import peer_override

    try:
        _, name, value = peer_override(f"genie.{text}")
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}") from None
    return name, value


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``write CONFIG OUT --seeds A-B``, ``score DAYS RUNS`` or
    ``losses DAYS [--runs RUNS] [--model NAME_OR_BASE] [--set NAME=VALUE] [--out CSV]``."""
    parser = argparse.ArgumentParser(prog="python -m seisbench_genie.benchmark.realistic_days",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("write", help="write the days")
    w.add_argument("config", help="training config (YAML) whose generator makes the days")
    w.add_argument("out", help="folder for the days")
    w.add_argument("--seeds", default="40001-40012", help="seed range A-B (default 40001-40012)")
    w.add_argument("--set", dest="ranges", action="append", type=_range_setting, default=[],
                   metavar="NAME=LOW,HIGH",
                   help="replace a range of the generator (repeatable), e.g. "
                        "false_pick_rate_per_station_hour=0,20 (per station-hour) or "
                        "aperture_km=30,80 (km)")
    only = w.add_mutually_exclusive_group()
    only.add_argument("--event-picks-only", action="store_true",
                      help="keep only the picks of events (the same days without false picks, "
                           "coda picks, duplicates and regional arrivals: what a perfect "
                           "pick-probability filter would leave); as --pick-filter 1,0")
    only.add_argument("--pick-filter", type=_shares, metavar="A,E",
                      help="remove a share A (0-1) of the picks of no event and a share E "
                           "(0-1) of the events' picks, at random: a picker-probability filter")
    s = sub.add_parser("score", help="score benchmark-real outputs against the truth")
    s.add_argument("days")
    s.add_argument("runs")
    lo = sub.add_parser("losses", help="where GENIE loses the small events of the days")
    lo.add_argument("days")
    lo.add_argument("--runs", help="benchmark-real outputs of the days: adds whether the "
                                   "peer (--peer) found each event")
    lo.add_argument("--peer", default="pyocto", help="peer associator in --runs "
                                                     "(default pyocto)")
    lo.add_argument("--model", default="crustal",
                    help="GENIE model: pretrained name (default crustal) or the BASE path "
                         "of saved weights (BASE.json / BASE.pt, or BASE.json.vN)")
    lo.add_argument("--set", dest="settings", action="append", type=_classify_setting,
                    default=[], metavar="NAME=VALUE",
                    help="a keyword of GENIE.classify (repeatable), e.g. detection_grids=3")
    lo.add_argument("--out", help="write the per-event table to this CSV file")
    args = parser.parse_args(argv)
    if args.command == "write":
        first, _, last = args.seeds.partition("-")
        seeds = range(int(first), int(last or first) + 1)
        try:
            pick_filter = (1.0, 0.0) if args.event_picks_only else args.pick_filter
            folders = write_days(args.config, args.out, seeds, dict(args.ranges),
                                 pick_filter=pick_filter)
        except ValueError as err:
            parser.error(str(err))
        for folder in folders:
            print(folder)
    elif args.command == "score":
        print(score_runs(args.days, args.runs).round(3).to_string())
    else:
        from seisbench_genie.benchmark.genie_runner import load_model
        from seisbench_genie.benchmark.stage_losses import loss_summary, stage_losses

        try:
            model = load_model(args.model)
            table = stage_losses(args.days, model, args.runs, args.peer, dict(args.settings))
        except (ValueError, TypeError) as err:  # no such model or day; a bad --set
            parser.error(str(err))
        if args.out:
            table.to_csv(args.out, index=False)
        print(f"{len(table)} small in-network events ({SMALL_EVENT_PICKS[0]}-"
              f"{SMALL_EVENT_PICKS[1]} picks)")
        print(loss_summary(table).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
