"""The GENIE network: graphs, features and the properties that make weights transferable."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from seisbench_genie.nn import (
    GENIENetwork,
    ModelScale,
    PickIndex,
    build_region_graph,
    source_nodes,
    window_features,
)
from seisbench_genie.nn.candidates import association_candidates

SCALE = ModelScale("t", length_km=50.0, node_spacing_km=25.0, depth_km=(0, 30),
                   max_distance_km=120.0, kernel_s=2.0, window_step_s=2.0, k_pairs=8)


@pytest.fixture()
def graph():
    rng = np.random.default_rng(0)
    sta = np.c_[rng.uniform(0, 200, (15, 2)), -rng.uniform(0, 1, 15)]
    return build_region_graph(sta, source_nodes((0, 200), (0, 200), (0, 30), 25.0), SCALE)


def test_product_graph_is_sparse_and_bounded(graph):
    assert graph.n_pairs <= graph.n_sources * SCALE.k_pairs
    assert float(graph.pair_distance_km.max()) <= SCALE.max_distance_km
    per_source = torch.bincount(graph.pair_source, minlength=graph.n_sources)
    assert int(per_source.max()) <= SCALE.k_pairs
    s, d = graph.product_station_edges
    assert torch.equal(graph.pair_source[s], graph.pair_source[d])  # same source node
    assert not torch.equal(graph.pair_station[s], graph.pair_station[d])
    s, d = graph.product_source_edges
    assert torch.equal(graph.pair_station[s], graph.pair_station[d])  # same station


def test_features_are_phase_aware_kernels():
    index = PickIndex(torch.tensor([0, 0]), torch.tensor([10.0, 30.0], dtype=torch.float64),
                      torch.tensor([1, 0]))  # an S-labelled pick at 10 s, a P-labelled at 30 s
    f = window_features(index, torch.tensor([0.0], dtype=torch.float64), torch.tensor([0]),
                        torch.tensor([10.0]), torch.tensor([30.0]), kernel_s=2.0)[0, 0]
    # any-pick channels see both picks; P-labelled vs predicted P sees only the far pick
    assert f[0] == pytest.approx(1.0) and f[1] == pytest.approx(1.0)
    assert f[2] < 1e-10 and f[3] < 1e-10


def test_signed_channels_say_on_which_side_the_pick_lies():
    index = PickIndex(torch.tensor([0, 0, 1]), torch.tensor([9.0, 32.0, 50.0],
                      dtype=torch.float64), torch.tensor([0, 1, 0]))
    f = window_features(index, torch.tensor([0.0], dtype=torch.float64), torch.tensor([0, 2]),
                        torch.tensor([10.0, 10.0]), torch.tensor([30.0, 30.0]), kernel_s=2.0,
                        signed=True)[0]
    assert f.shape == (2, 8)
    kernels = window_features(index, torch.tensor([0.0], dtype=torch.float64),
                              torch.tensor([0, 2]), torch.tensor([10.0, 10.0]),
                              torch.tensor([30.0, 30.0]), kernel_s=2.0)[0]
    assert torch.allclose(f[:, :4], kernels)
    # the P pick is 1 s early, the S pick 2 s late: signed channels r/kernel * kernel
    assert f[0, 6] == pytest.approx(-0.5 * float(np.exp(-0.125)), rel=1e-5)
    assert f[0, 7] == pytest.approx(1.0 * float(np.exp(-0.5)), rel=1e-5)
    # a station without picks: every channel is zero (no NaN from inf * 0)
    assert torch.allclose(f[1], torch.zeros(8), atol=1e-12) and torch.isfinite(f[1]).all()


def test_knn_fast_path_equals_message_passing(graph):
    torch.manual_seed(0)
    net = GENIENetwork(SCALE, hidden=16)
    feats = torch.rand(3, graph.n_pairs, 4)
    with torch.no_grad():
        fast = net.encode(feats, graph)
        # the same edges, not listed node by node: takes the generic message-passing path
        slow_graph = replace(graph, source_edges=graph.source_edges.flip(1),
                             source_edge_offset=graph.source_edge_offset.flip(0))
        slow = net.encode(feats, slow_graph)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_output_is_invariant_to_translating_the_network(graph):
    """No absolute coordinates reach the network: moving stations and sources together
    changes nothing."""
    torch.manual_seed(1)
    net = GENIENetwork(SCALE, hidden=16)
    feats = torch.rand(2, graph.n_pairs, 4)
    shift = np.array([500.0, -300.0, 0.0])
    moved = build_region_graph(graph.station_xyz.numpy() + shift,
                               graph.source_xyz.numpy() + shift, SCALE)
    with torch.no_grad():
        a = net.node_logits(net.encode(feats, graph))
        b = net.node_logits(net.encode(feats, moved))
    assert torch.allclose(a, b, atol=1e-5)


def test_signed_network_takes_eight_channels(graph):
    net = GENIENetwork(SCALE, hidden=16, signed_residuals=True)
    with torch.no_grad():
        assert net.encode(torch.rand(2, graph.n_pairs, 8), graph).shape == (
            2, graph.n_sources, 16)


def test_parameter_count_is_small():
    n = sum(p.numel() for p in GENIENetwork(SCALE, hidden=24).parameters())
    assert 10_000 < n < 300_000


def test_association_probabilities_compete_per_station():
    torch.manual_seed(2)
    net = GENIENetwork(SCALE, hidden=16)
    cand = association_candidates(
        torch.tensor([0.0], dtype=torch.float64), torch.tensor([[5.0, 6.0]]),
        torch.tensor([[9.0, 10.0]]), torch.tensor([[20.0, 30.0]]),
        torch.tensor([0, 0, 0, 1]), torch.tensor([5.1, 5.5, 9.0, 6.2], dtype=torch.float64),
        torch.tensor([0, 0, 1, 0]), SCALE, tolerance_s=3.0)
    emb = torch.rand(1, 16)
    ctx = torch.cat([emb[cand.group_source], cand.group_distance[:, None] / 50.0], -1)
    prob = net.associate(emb[cand.source], cand.features, cand.group, ctx)
    per_group = torch.zeros(int(cand.group.max()) + 1, 2).index_add_(0, cand.group, prob)
    assert (per_group <= 1.0 + 1e-6).all() and (prob >= 0).all()


def test_scale_validation():
    with pytest.raises(ValueError, match="depth_km"):
        ModelScale("x", 50.0, 25.0, (30, 0), 150.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="kernel_s"):
        ModelScale("x", 50.0, 25.0, (0, 30), 150.0, 0.0, 2.0)
