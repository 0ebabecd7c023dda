"""``python -m seisbench_genie.demo`` (``make demo``): associate a synthetic day with the
pretrained model and write what a seismologist looks at.

Makes a southern-California day after Puente et al. (2025) (the crustal scenario: 80 stations,
Hadley & Kanamori model, 100 events, 30 % false picks), turns it into a SeisBench PickList,
runs ``GENIE.from_pretrained("crustal").classify`` and prints a summary: the day's span in UTC,
events found, picks associated, runtime, the first events and the scores against the ground
truth. Into the output folder (default ``./genie_demo_output``) it writes the QuakeML catalog,
the CSV tables (events, assignments, picks, stations) and the figures of
:mod:`seisbench_genie.plot` (map and depth sections, record section of the best-recorded
event, association overview), and names every file.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seisbench_genie.atomic import atomic_write


def format_utc(seconds: Sequence[float] | np.ndarray) -> list[str]:
    """POSIX seconds as ISO 8601 UTC date-times to the hundredth of a second.

    Parameters
    ----------
    seconds
        POSIX times (s since 1970-01-01T00:00:00Z), e.g. ``out.events["time"]``.

    Returns
    -------
    list of str
        ``"YYYY-MM-DDThh:mm:ss.ssZ"``, one per input time.

    Examples
    --------
    >>> format_utc([1704067200.0, 1704078765.123, 1704078765.996])
    ['2024-01-01T00:00:00.00Z', '2024-01-01T03:12:45.12Z', '2024-01-01T03:12:46.00Z']
    """
    t = pd.to_datetime(np.asarray(seconds, dtype=float), unit="s").round("10ms")
    return (pd.Series(t.strftime("%Y-%m-%dT%H:%M:%S.%f")).str[:-4] + "Z").tolist()


def event_table(events: pd.DataFrame) -> pd.DataFrame:
    """The demo's view of ``out.events``: UTC origin time, location, picks, score.

    Examples
    --------
    >>> ev = pd.DataFrame({"time": [1704078765.123], "latitude": [34.1], "longitude": [-117.4],
    ...                    "depth_km": [8.25], "n_picks": [24], "n_stations": [12],
    ...                    "score": [0.87], "rms_s": [0.061]})
    >>> print(event_table(ev).to_string(index=False))
          origin time (UTC)  latitude  longitude  depth km  picks  stations  score  rms s
    2024-01-01T03:12:45.12Z      34.1     -117.4       8.2     24        12   0.87  0.061
    """
    return pd.DataFrame({
        "origin time (UTC)": format_utc(events["time"]),
        "latitude": events["latitude"].round(3),
        "longitude": events["longitude"].round(3),
        "depth km": events["depth_km"].round(1),
        "picks": events["n_picks"],
        "stations": events["n_stations"],
        "score": events["score"].round(2),
        "rms s": events["rms_s"].round(3),
    })


#: Default output folder of the demo (relative to the working directory).
DEFAULT_OUT_DIR = "genie_demo_output"


def write_outputs(out: Any, picks: pd.DataFrame, stations: pd.DataFrame,
                  velocity_model: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write the catalog, the tables and the figures of one association into ``out_dir``.

    Parameters
    ----------
    out
        The output of :meth:`~seisbench_genie.GENIE.classify`.
    picks
        The picks given to ``classify`` as a DataFrame (``station``, ``phase``, ``time`` in
        POSIX s), in the same order (``pick_idx`` in the assignments is a row position).
    stations
        Station table (``id``, ``latitude``, ``longitude``, ``elevation`` in m).
    velocity_model
        The 1-D model (layer tops ``depth_km``, ``vp``, ``vs``) for the record section's
        moveout curves.
    out_dir
        Output folder, created when missing.

    Returns
    -------
    list of pathlib.Path
        ``catalog.xml`` (QuakeML), ``events.csv``, ``assignments.csv``, ``picks.csv``,
        ``stations.csv``, ``catalog_map.png``, ``record_section.png`` (only when an event
        was found) and ``association_overview.png``.

    Examples
    --------
    >>> write_outputs(out, scn.picks, scn.stations, scn.velocity_model, "out")  # doctest: +SKIP
    """
    from seisbench_genie import plot
    from seisbench_genie.catalog import NSMAP

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    events = out.events.assign(time_utc=format_utc(out.events["time"]))
    table = picks[["station", "phase", "time"]].assign(
        pick_idx=np.arange(len(picks)), time_utc=format_utc(picks["time"]))
    written = [
        atomic_write(folder / "catalog.xml", lambda p: out.catalog.write(
            str(p), format="QUAKEML", nsmap=NSMAP)),
        atomic_write(folder / "events.csv", lambda p: events.to_csv(p, index=False)),
        atomic_write(folder / "assignments.csv",
                      lambda p: out.assignments.to_csv(p, index=False)),
        atomic_write(folder / "picks.csv", lambda p: table.to_csv(p, index=False)),
        atomic_write(folder / "stations.csv", lambda p: stations.to_csv(p, index=False)),
        plot.save_figure(plot.plot_catalog(out.events, stations), folder / "catalog_map.png"),
    ]
    if len(out.events):
        written.append(plot.save_figure(
            plot.plot_record_section(out.events, out.assignments, picks, stations,
                                     velocity_model=velocity_model),
            folder / "record_section.png"))
    written.append(plot.save_figure(
        plot.plot_association_overview(out.events, out.assignments, picks, stations),
        folder / "association_overview.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    """Run the demo (see the module docstring); returns 0.

    Examples
    --------
    >>> main(["--events", "20", "--out-dir", "demo_out"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="events in the day")
    parser.add_argument("--noise", type=float, default=0.3, help="false picks / true picks")
    parser.add_argument("--show", type=int, default=10, help="events to list")
    parser.add_argument("--out-dir", default=DEFAULT_OUT_DIR,
                        help=f"output folder (default ./{DEFAULT_OUT_DIR})")
    args = parser.parse_args(argv)

    from seisbench_genie import GENIE
    from seisbench_genie.metrics import evaluate
    from seisbench_genie.synthetic import make_scenario

    scn = make_scenario("crustal", n_events=args.events, noise=args.noise, seed=0)
    picks = scn.to_picklist()
    n_false = int((scn.picks["event"] < 0).sum())
    first, last = format_utc([scn.picks["time"].min(), scn.picks["time"].max()])
    print(f"Synthetic day: {args.events} events on {len(scn.stations)} southern-California "
          f"stations, {len(picks)} picks ({n_false} false), {first} to {last}")
    model = GENIE.from_pretrained("crustal")
    print(f"Associating with GENIE crustal v{model.weights_version} ...")
    start = time.perf_counter()
    out = model.classify(picks, scn.stations, velocity_model=scn.velocity_model)
    seconds = time.perf_counter() - start

    n_assigned = len(out.assignments)
    print(f"\n{len(out.events)} events found; {n_assigned} of {len(picks)} picks associated "
          f"({n_assigned / max(len(picks), 1):.0%}); association took {seconds:.1f} s")
    if len(out.events):
        shown = min(args.show, len(out.events))
        print(f"\nFirst {shown} events:")
        print(event_table(out.events.head(shown)).to_string(index=False))
    scores = evaluate(scn.picks, out.assignments, scn.events, out.events)
    print(f"\nAgainst the ground truth: events precision {scores.event_precision:.3f}, "
          f"recall {scores.event_recall:.3f}, F1 {scores.event_f1:.3f}; picks F1 "
          f"{scores.pick_f1:.3f}; median epicentral error {scores.epicentral_error_km:.2f} km, "
          f"depth error {scores.depth_error_km:.2f} km")
    written = write_outputs(out, scn.picks, scn.stations, scn.velocity_model, args.out_dir)
    print(f"\nWritten to {Path(args.out_dir).resolve()}:")
    for path in written:
        print(f"  {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
