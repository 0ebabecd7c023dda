"""What every stage of the association reads: the picks (built once per run) and a node
grid with its product graph and travel times (one per grid shift)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from seisbench_genie.association.params import AssociationParams, Region
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.nn.features import PickIndex
from seisbench_genie.nn.graphs import build_region_graph, source_nodes
from seisbench_genie.nn.network import GENIENetwork

#: Station-source pairs x windows per network call on a CPU (see
#: ``AssociationParams.batch_size``): measured on the benchmark days, batches of about this
#: size keep the network's intermediate arrays in cache and ran about twice as fast as
#: batches of 64 windows.
CPU_BATCH_PAIRS = 32768
#: The most windows per network call on a CPU, and the fewest on a GPU.
MAX_BATCH_WINDOWS = 64
#: Station-source pairs x windows per network call on a GPU: measured on an NVIDIA H200
#: (crustal v4, the crustal 500-event benchmark day, 6,230 pairs per window; 2026-11-30),
#: batches of 64 / 256 / 1,024 windows took 3.9 / 3.3 / 3.2 s at 0.2 / 0.8 / 2.2 GB of
#: GPU memory at most; about 2M pairs (336 windows there) takes most of that gain for
#: about 1 GB (``docs/benchmarks.md``, "The GPU path, measured").
GPU_BATCH_PAIRS = 2 ** 21
#: The most windows per network call on a GPU (small networks have few pairs per window).
MAX_GPU_BATCH_WINDOWS = 4096


def depth_spacing_km(scale: ModelScale, depth_km: tuple[float, float]) -> float:
    """Vertical spacing (km) of the node grid over a search depth range: the range is cut
    into as many levels as needed so that no two levels are further apart than the levels
    the model was trained on.

    Training lays ``round(extent / (node_spacing_km * depth_spacing_factor))`` levels over
    the model's own depth range (crustal: 2 levels over 0-40 km, 20 km apart); a search
    range cut the same way can get fewer levels per km (0-25 km: 1 level, 25 km), which
    leaves events near the surface further from every node than training ever put them
    (measured: ``docs/benchmarks.md``, "Close aftershocks and node depth levels").

    Examples
    --------
    >>> from seisbench_genie.nn.config import ModelScale
    >>> sc = ModelScale(name="toy", length_km=50.0, node_spacing_km=25.0, depth_km=(0, 40),
    ...                 max_distance_km=180.0, kernel_s=3.0, window_step_s=3.0)
    >>> depth_spacing_km(sc, (0.0, 25.0)), depth_spacing_km(sc, (0.0, 40.0))
    (12.5, 20.0)
    >>> depth_spacing_km(sc, (0.0, 20.0))
    20.0
    """
    lo, hi = scale.depth_km
    nominal = scale.node_spacing_km * scale.depth_spacing_factor
    trained = (hi - lo) / max(1, round((hi - lo) / nominal))
    extent = float(depth_km[1]) - float(depth_km[0])
    if extent <= 0:
        return trained
    # A relative tolerance so that a range of exactly k trained levels gets k, not k + 1.
    levels = max(1, math.ceil(extent / trained - 1e-9))
    return extent / levels


class PickSet:
    """The input picks as tensors, sorted by time, and their search index.

    Times are float64 seconds relative to ``t_ref`` (the floor of the first pick time), so
    that float64 stays precise.

    Parameters
    ----------
    picks
        Normalised pick table: ``pick_idx``, ``station_index``, ``phase`` ("P"/"S"),
        ``time`` (POSIX s), sorted by time.
    device
        Device of the copy of the index the network reads.

    Examples
    --------
    >>> table = pd.DataFrame({"pick_idx": [0, 1], "station_index": [0, 1],
    ...                       "phase": ["P", "S"], "time": [100.5, 102.0]})
    >>> ps = PickSet(table)
    >>> ps.t_ref, ps.time_s.tolist(), ps.phase.tolist()
    (100.0, [0.5, 2.0], [0, 1])
    """

    def __init__(self, picks: pd.DataFrame, device: torch.device | str = "cpu"):
        self.t_ref = float(np.floor(picks["time"].min()))
        self.station = torch.as_tensor(picks["station_index"].to_numpy(), dtype=torch.long)
        self.time_s = torch.as_tensor(picks["time"].to_numpy() - self.t_ref,
                                      dtype=torch.float64)
        self.phase = torch.as_tensor((picks["phase"] == "S").to_numpy(), dtype=torch.long)
        self.pick_idx = picks["pick_idx"].to_numpy()
        self.index = PickIndex(self.station, self.time_s, self.phase)
        self.device = torch.device(device)
        self.net_index = self.index.to(self.device)

    def __len__(self) -> int:
        return len(self.pick_idx)

    def span(self, t_lo_s: float, t_hi_s: float) -> tuple[int, int]:
        """Row range [a, b) of the picks with ``t_lo_s <= time <= t_hi_s``."""
        a = int(torch.searchsorted(self.time_s, torch.tensor(t_lo_s, dtype=torch.float64)))
        b = int(torch.searchsorted(self.time_s, torch.tensor(t_hi_s, dtype=torch.float64),
                                   right=True))
        return a, b


class NodeGrid:
    """The region's source nodes (shifted by ``grid_shift`` of the spacing along x and y),
    their product graph with the stations, and the P/S travel times of every pair.

    Parameters
    ----------
    network
        The trained network (its scale sets the spacing; its device receives copies).
    bound
        Travel-time backend bound to the stations (local frame).
    region
        Search volume (local km).
    grid_shift
        Shift of every node along x and y, as a fraction of the node spacing.
    spacing_factor
        Horizontal node spacing as a fraction of the model's ``node_spacing_km``; the depth
        levels stay the model's (``depth_spacing_factor`` is divided by it). The grid's
        ``scale`` carries the spacing, so the stages that read it (suppression, refinement,
        provisional relocation) work at this spacing; the nodes cover the same box, and
        locations have the same bounds, as at the model's spacing.

    Examples
    --------
    >>> # built by seisbench_genie.association.associate_table
    """

    def __init__(self, network: GENIENetwork, bound, region: Region, grid_shift: float = 0.0,
                 spacing_factor: float = 1.0):
        sc = network.scale
        #: The model's node spacing (km): it sets how far outside the region nodes and
        #: locations reach, whatever this grid's spacing.
        self.model_spacing_km = sc.node_spacing_km
        if spacing_factor != 1.0:
            sc = replace(sc, node_spacing_km=sc.node_spacing_km * spacing_factor,
                         depth_spacing_factor=sc.depth_spacing_factor / spacing_factor)
        self.network, self.bound, self.region, self.scale = network, bound, region, sc
        self.shift = float(grid_shift)
        sta = bound.station_xyz_km.to(torch.float64).numpy()
        # Nodes are cell centres, half a spacing inside the box they tile: the box is widened
        # by half the model's spacing so that an event at the region's edge is as close to a
        # node as one inside (its location may then fall up to that far outside the region);
        # a finer grid covers the same box. A shifted grid has every node moved along x and
        # y: between the first grid's nodes, and as far past the region's far edges.
        h = 0.5 * self.model_spacing_km
        shift = grid_shift * sc.node_spacing_km
        nodes = source_nodes((region.x_km[0] - h + shift, region.x_km[1] + h + shift),
                             (region.y_km[0] - h + shift, region.y_km[1] + h + shift),
                             region.depth_km, sc.node_spacing_km,
                             depth_spacing_km(sc, region.depth_km))
        self.graph = build_region_graph(sta, nodes, sc)
        src = self.graph.source_xyz[self.graph.pair_source].to(torch.float64)
        with torch.no_grad():
            self.tp = bound.pair_times(src, self.graph.pair_station, "P").float()
            self.ts = bound.pair_times(src, self.graph.pair_station, "S").float()
        self.max_travel_s = float(self.ts.max()) if self.ts.numel() else 0.0
        # Copies on the network's device (the same objects on a CPU).
        self.device = next(network.parameters()).device
        self.net_graph = self.graph.to(self.device)
        self.net_tp, self.net_ts = self.tp.to(self.device), self.ts.to(self.device)

    def batch_size(self, params: AssociationParams) -> int:
        """Windows per network call (see ``AssociationParams.batch_size``)."""
        if params.batch_size is not None:
            return params.batch_size
        pairs = max(1, len(self.graph.pair_station))
        if self.device.type != "cpu":
            return int(np.clip(GPU_BATCH_PAIRS // pairs, MAX_BATCH_WINDOWS,
                               MAX_GPU_BATCH_WINDOWS))
        return int(np.clip(CPU_BATCH_PAIRS // pairs, 1, MAX_BATCH_WINDOWS))

    def source_neighbours(self) -> torch.Tensor:
        """(N, k) source-graph neighbours of each node (k = 0 without source edges)."""
        g = self.graph
        if g.source_edges.shape[1]:
            return g.source_edges[0].reshape(g.n_sources, -1)
        return torch.zeros(g.n_sources, 0, dtype=torch.long)

    def location_bounds(self) -> tuple[tuple[float, float], ...]:
        """Bounds of a location: the region +- the model's node spacing horizontally,
        depth >= 0 (the same for a finer grid)."""
        return self.region.location_bounds(self.model_spacing_km)
