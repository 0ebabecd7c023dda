"""``python -m seisbench_genie.demo``: associate a synthetic day with the pretrained model.

Makes a southern-California day after Puente et al. (2025) (the crustal scenario: 80 stations,
Hadley & Kanamori model, 100 events, 30 % false picks), turns it into a SeisBench PickList,
runs ``GENIE.from_pretrained("crustal").classify`` and prints a summary (events found, picks
associated, runtime), the first events with their origin times in UTC, the scores against
the ground truth and where the QuakeML catalogue was written.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd


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


def main(argv: list[str] | None = None) -> int:
    """Run the demo (see the module docstring); returns 0.

    Examples
    --------
    >>> main(["--events", "20", "--out", "demo.xml"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="events in the day")
    parser.add_argument("--noise", type=float, default=0.3, help="false picks / true picks")
    parser.add_argument("--show", type=int, default=10, help="events to list")
    parser.add_argument("--out", default="demo_catalog.xml", help="QuakeML output file")
    args = parser.parse_args(argv)

    from seisbench_genie import GENIE
    from seisbench_genie.catalog import NSMAP
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
    out.catalog.write(args.out, format="QUAKEML", nsmap=NSMAP)
    print(f"QuakeML catalog ({len(out.catalog)} events) written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
