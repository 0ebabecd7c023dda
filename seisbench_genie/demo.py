"""``python -m seisbench_genie.demo``: associate a synthetic day with the pretrained model.

Makes a southern-California day after Puente et al. (2025) (the crustal scenario: 80 stations,
Hadley & Kanamori model, 100 events, 30 % false picks), turns it into a SeisBench PickList,
runs ``GENIE.from_pretrained("crustal").classify`` and prints the events, the scores against
the ground truth and where the QuakeML catalogue was written.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="events in the day")
    parser.add_argument("--noise", type=float, default=0.3, help="false picks / true picks")
    parser.add_argument("--out", default="demo_catalog.xml", help="QuakeML output file")
    args = parser.parse_args(argv)

    from seisbench_genie import GENIE
    from seisbench_genie.catalog import NSMAP
    from seisbench_genie.metrics import evaluate
    from seisbench_genie.synthetic import make_scenario

    scn = make_scenario("crustal", n_events=args.events, noise=args.noise, seed=0)
    picks = scn.to_picklist()
    print(f"{len(picks)} picks on {len(scn.stations)} stations "
          f"({args.events} events, {args.noise:.0%} false picks)")
    model = GENIE.from_pretrained("crustal")
    start = time.perf_counter()
    out = model.classify(picks, scn.stations, velocity_model=scn.velocity_model)
    seconds = time.perf_counter() - start
    print(out.catalog)
    print(out.events.head(10).to_string(index=False))
    scores = evaluate(scn.picks, out.assignments, scn.events, out.events)
    print(f"\nassociation: {seconds:.1f} s; event precision {scores.event_precision:.3f}, "
          f"recall {scores.event_recall:.3f}, F1 {scores.event_f1:.3f}; pick F1 "
          f"{scores.pick_f1:.3f}; median epicentral error {scores.epicentral_error_km:.2f} km")
    out.catalog.write(args.out, format="QUAKEML", nsmap=NSMAP)
    print(f"catalog written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
