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


def test_phase_channels_find_the_nearest_labelled_pick_as_a_search_of_their_own_picks():
    """The P and S channels take their positions from one search among all picks; the
    nearest labelled pick must be the one a search among that phase's picks finds, also for
    a shorter index cut from a longer one, duplicate times and stations without picks."""
    rng = np.random.default_rng(3)
    n = 400
    station = torch.as_tensor(rng.integers(0, 7, n))  # station 7 has no picks
    time = torch.as_tensor(np.round(rng.uniform(0, 600, n), 1))  # rounding makes ties
    phase = torch.as_tensor(rng.integers(0, 2, n))
    full = PickIndex(station, time, phase)
    for index in (full, full.within(200.0, 300.0)):
        q_station = torch.as_tensor(rng.integers(0, 8, 2000))
        q_time = torch.as_tensor(rng.uniform(-50, 650, 2000))
        key, outside = index.query_key(q_station, q_time)
        position = torch.searchsorted(index.keys["any"], key)
        for which in ("P", "S"):
            assert torch.equal(index.channel_position(which, position),
                               torch.searchsorted(index.keys[which], key))
            found = index.nearest_offset_key(which, key, outside,
                                              index.channel_position(which, position))
            assert torch.equal(found, index.nearest_offset(which, q_station, q_time))
        # brute force on the full index: the nearest pick of that phase at that station
        if index is full:
            for k in range(0, 2000, 97):
                mine = (station == q_station[k]) & (phase == 0)
                expected = (time[mine] - q_time[k]).abs().min() if mine.any() else np.inf
                got = index.nearest_residual("P", q_station[k:k + 1], q_time[k:k + 1])
                assert float(got[0]) == pytest.approx(float(expected), abs=1e-6)


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


def test_lattices_evaluated_together_keep_their_own_neighbourhoods():
    """Grouped source graphs never link two lattices, so several lattices evaluated in one
    graph each keep the neighbourhoods they have alone (the verification step relies on it)."""
    from seisbench_genie.nn.graphs import aligned_lattices

    rng = np.random.default_rng(3)
    sta = np.c_[rng.uniform(0, 200, (12, 2)), np.zeros(12)]
    bounds = ((0.0, 200.0), (0.0, 200.0), (0.0, 30.0))
    # two overlapping lattices: without the groups their nodes would be k-NN neighbours
    centres = np.array([[100.0, 100.0, 10.0], [110.0, 95.0, 12.0]])
    nodes, group, centre = aligned_lattices(centres, 25.0, 25.0, 2, bounds)
    assert np.allclose(nodes[centre], centres)
    assert (nodes[:, 2] >= 0).all() and (nodes[:, 2] <= 30).all()
    together = build_region_graph(sta, nodes, SCALE, source_group=group)
    src, dst = together.source_edges.numpy()
    assert (group[src] == group[dst]).all()
    mixed = build_region_graph(sta, nodes, SCALE).source_edges.numpy()
    assert (group[mixed[0]] != group[mixed[1]]).any()

    def neighbour_distances(xyz, edges, n):
        d = np.linalg.norm(xyz[edges[0]] - xyz[edges[1]], axis=1)
        return np.sort(d.reshape(n, -1), axis=1)

    for g in (0, 1):
        alone = build_region_graph(sta, nodes[group == g], SCALE)
        rows = np.flatnonzero(group == g)
        mine = np.isin(dst, rows)
        grouped = neighbour_distances(nodes, np.stack([src[mine], dst[mine]]), len(rows))
        single = neighbour_distances(nodes[rows], alone.source_edges.numpy(), len(rows))
        assert np.allclose(grouped, single)
        assert together.n_pairs == sum(
            build_region_graph(sta, nodes[group == h], SCALE).n_pairs for h in (0, 1))


def test_field_queries_restricted_to_given_nodes(graph):
    torch.manual_seed(2)
    net = GENIENetwork(SCALE, hidden=16)
    with torch.no_grad():
        latent = net.encode(torch.rand(1, graph.n_pairs, 4), graph)
        q = graph.source_xyz[[5, 40]] + torch.tensor([3.0, -2.0, 1.0])
        window = torch.zeros(2, dtype=torch.long)
        free, _ = net.query_field(latent, graph, window, q)
        # candidate sets holding the 6 nearest nodes give the same answer ...
        near = torch.cdist(q, graph.source_xyz).topk(10, largest=False).indices
        same, _ = net.query_field(latent, graph, window, q, nodes=near)
        # ... and sets without them a different one
        far = torch.cdist(q, graph.source_xyz).topk(20, largest=False).indices[:, 10:]
        other, _ = net.query_field(latent, graph, window, q, nodes=far)
    assert torch.allclose(free, same, atol=1e-6)
    assert not torch.allclose(free, other, atol=1e-3)
