"""
Associate a day of picks and look at the result
===============================================

A synthetic six-hour stretch on the southern-California stations of the crustal benchmark
scenario (Puente et al. 2025): 30 earthquakes and as many false picks again as true ones, as
a SeisBench ``PickList`` (what ``PhaseNet.classify(stream).picks`` returns). The pretrained
``crustal`` model associates and locates them with the scenario's 1-D velocity model; then
the figures of :mod:`seisbench_genie.plot` show the catalog, one event's picks against the
predicted moveout, and every pick over time.
"""

# %%
# The picks
# ---------
# ``make_scenario`` draws events, predicts their P and S arrivals at the stations with the
# scenario's velocity model, adds travel-time noise, drops stations at random and adds false
# picks. ``to_picklist`` turns the table into SeisBench picks.
import tempfile
import time
from pathlib import Path

import torch

from seisbench_genie import GENIE, plot
from seisbench_genie.synthetic import make_scenario

torch.set_num_threads(1)  # this example runs on one thread; GENIE(...).classify(num_threads=)

scn = make_scenario("crustal", n_events=30, noise=1.0, duration_s=6 * 3600.0, seed=3)
picks = scn.to_picklist()
print(f"{len(picks)} picks ({int((scn.picks['event'] < 0).sum())} false) on "
      f"{scn.picks['station'].nunique()} stations")
print(scn.velocity_model)

# %%
# Associate
# ---------
# ``classify`` returns the events and the pick assignments as DataFrames (and an ObsPy
# ``Catalog`` built from them on first access). The velocity model is a DataFrame of layer
# tops in km and km/s; it becomes a 1-D travel-time table, cached for the next run.
model = GENIE.from_pretrained("crustal")
start = time.perf_counter()
out = model.classify(picks, scn.stations, velocity_model=scn.velocity_model)
print(f"{len(out.events)} events, {len(out.assignments)} of {len(picks)} picks associated "
      f"in {time.perf_counter() - start:.1f} s")
out.events.head()

# %%
# The catalog: map and depth sections
# -----------------------------------
# Colour is origin time (``color_by="depth"`` colours by depth); with magnitudes (a
# ``magnitude`` column, or a Catalog with magnitudes) the markers are sized by magnitude.
fig = plot.plot_catalog(out.events, scn.stations)

# %%
# One event: record section
# -------------------------
# The associated picks of the best-recorded event against epicentral distance, coloured by
# their residual, on the P and S moveout predicted by the velocity model. Picks nearby in
# time that GENIE gave to other events (grey circles) or to none (grey crosses) are drawn too;
# here there are few, as the false picks are spread over six hours.
fig = plot.plot_record_section(out.events, out.assignments, picks, scn.stations,
                               velocity_model=scn.velocity_model)

# %%
# Every pick over time
# --------------------
# Events and picks per bin, and each station's picks, coloured by event (grey: in no event).
fig = plot.plot_association_overview(out.events, out.assignments, picks, scn.stations)

# %%
# Write QuakeML
# -------------
# ``NSMAP`` keeps GENIE's extra values (detection score, association probability) under the
# ``genie:`` prefix.
from seisbench_genie.catalog import NSMAP  # noqa: E402

folder = Path(tempfile.mkdtemp())
out.catalog.write(str(folder / "events.xml"), format="QUAKEML", nsmap=NSMAP)
print(out.catalog)
