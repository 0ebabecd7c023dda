"""The GENIE graph network: scale, graphs, input features and layers."""

from seisbench_genie.nn.candidates import association_features
from seisbench_genie.nn.config import ModelScale
from seisbench_genie.nn.features import PickIndex, window_features
from seisbench_genie.nn.graphs import RegionGraph, build_region_graph, knn_edges, source_nodes
from seisbench_genie.nn.network import GENIENetwork

__all__ = [
    "GENIENetwork",
    "ModelScale",
    "PickIndex",
    "RegionGraph",
    "association_features",
    "build_region_graph",
    "knn_edges",
    "source_nodes",
    "window_features",
]
