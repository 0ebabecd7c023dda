"""
Travel-time backends: a 1-D model, a constant-velocity model and your own
=========================================================================

GENIE predicts arrival times through a *travel-time backend*. A 1-D velocity model given as a
DataFrame becomes the ``layered`` backend (eikonal tables over distance and depth); a 3-D
model is the ``grid3d`` backend; any subclass of
:class:`~seisbench_genie.traveltimes.TravelTimeBackend` works too, passed to ``classify`` as
``velocity_model=`` or registered by name through the ``seisbench_genie.traveltimes`` entry
point. This example compares the moveout of three backends for a source at 10 km depth.
"""

# %%
# The registered backends, and a 1-D model
# ----------------------------------------
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from seisbench_genie import traveltimes
from seisbench_genie.stations import station_table
from seisbench_genie.synthetic import load_velocity_model
from seisbench_genie.traveltimes import BoundTravelTimes, TravelTimeBackend

torch.set_num_threads(1)
print("registered:", traveltimes.available())
socal = load_velocity_model("hadley_kanamori")  # layer tops: depth_km, vp, vs (km, km/s)
print(socal)

# %%
# Three backends
# --------------
# ``layered`` builds (and caches) a table reaching 150 km and 30 km depth. ``homogeneous``
# has one P and one S speed. ``GradientBackend`` is a backend of our own: velocity growing
# linearly with depth, with straight rays at the average slowness (a toy, but
# differentiable, which the locator needs).
layered = traveltimes.get("layered", model=socal, max_distance_km=150.0, max_depth_km=30.0)
homogeneous = traveltimes.get("homogeneous", vp=6.3, vs=3.64)


class GradientBackend(TravelTimeBackend):
    """v(z) = v0 + k z for P; S = P / vp_vs; straight rays (a toy model)."""

    name, max_depth_km, max_distance_km = "gradient", 60.0, None

    def __init__(self, v0: float = 5.5, k: float = 0.06, vp_vs: float = 1.73):
        self.v0, self.k, self.vp_vs = float(v0), float(k), float(vp_vs)

    def bind(self, stations, projection=None, station_terms=None):
        stations = station_table(stations)
        projection = projection or self.default_projection(stations)
        return BoundGradient(self, stations, projection, station_terms)


class BoundGradient(BoundTravelTimes):
    def _pair_times(self, source_xyz_km, station_index, phase):
        sta = self.station_xyz_km[station_index].to(source_xyz_km.dtype)  # x, y, -elev (km)
        dist = torch.linalg.vector_norm(source_xyz_km - sta, dim=1).clamp(min=1e-6)
        b = self.backend
        # mean slowness along the ray: ln(v1/v0) / (v1 - v0) for a linear gradient
        v_src = b.v0 + b.k * source_xyz_km[:, 2].clamp(min=0.0)
        v_sta = b.v0 + b.k * sta[:, 2].clamp(min=0.0)
        dv = (v_src - v_sta).abs().clamp(min=1e-6)
        slowness = torch.log(torch.maximum(v_src, v_sta) / torch.minimum(v_src, v_sta)) / dv
        t = dist * slowness
        return t if phase == "P" else t * b.vp_vs


gradient = GradientBackend()

# %%
# Moveout against distance
# ------------------------
# ``backend.times(sources, stations, phase)`` takes geographic sources (latitude, longitude,
# depth in km) and a station table, and returns seconds, one row per source.
distance_km = np.linspace(0.0, 150.0, 151)
line = pd.DataFrame({"id": [f"XX.S{i:03d}." for i in range(len(distance_km))],
                     "latitude": 34.0 + distance_km / 111.195, "longitude": -117.0})
source = [34.0, -117.0, 10.0]

fig = Figure(figsize=(8, 4.5), layout="constrained")
ax_t, ax_d = fig.subplots(1, 2)
for backend, color in ((layered, "k"), (homogeneous, "tab:blue"), (gradient, "tab:orange")):
    for phase, ls in (("P", "-"), ("S", "--")):
        t = backend.times(source, line, phase)[0]
        ax_t.plot(distance_km, t, color=color, ls=ls, label=f"{backend.name} {phase}")
        if backend is not layered:
            ref = layered.times(source, line, phase)[0]
            ax_d.plot(distance_km, t - ref, color=color, ls=ls, label=f"{backend.name} {phase}")
ax_t.set(xlabel="epicentral distance (km)", ylabel="travel time (s)",
         title="source at 10 km depth")
ax_d.set(xlabel="epicentral distance (km)", ylabel="minus layered (s)",
         title="difference to the 1-D model")
ax_d.axhline(0.0, color="k", lw=0.5)
for ax in (ax_t, ax_d):
    ax.grid(True, lw=0.3)
    ax.legend(fontsize=7)

# %%
# Use one in an association
# -------------------------
# Any backend instance goes to ``classify`` directly::
#
#     out = GENIE.from_pretrained("crustal").classify(picks, inventory,
#                                                     velocity_model=GradientBackend())
#
# To make it available by name (``traveltimes.get("gradient")``), declare it in your
# package's ``pyproject.toml``::
#
#     [project.entry-points."seisbench_genie.traveltimes"]
#     gradient = "mypackage.tt:GradientBackend"
