"""The training generator's options for what real picks have: each changes the picks the way
its documentation says, and a config without them is unchanged."""

import dataclasses

import numpy as np
import pytest
import torch

from seisbench_genie.nn.config import ModelScale
from seisbench_genie.synthetic.training import SyntheticDayConfig, TrainingGenerator
from seisbench_genie.traveltimes import get

SCALE = ModelScale("t", 50.0, 25.0, (0.0, 30.0), 150.0, 2.0, 2.0)
BASE = SyntheticDayConfig(n_stations=(30, 30), aperture_km=(120.0, 120.0),
                          event_rate_per_hour=(300.0, 300.0),
                          false_pick_rate_per_station_hour=(0.0, 0.0), bursts=(0, 0),
                          wrong_phase_fraction=0.0, coda_fraction=0.0, station_dropout=0.0,
                          pick_noise_s=(0.05, 0.05), pick_noise_relative=(0.0, 0.0),
                          event_bias_relative=0.0, detection_radius_km=(30.0, 150.0),
                          magnitude_event_rate_per_hour=(3000.0, 3000.0))


def _days(config: SyntheticDayConfig, n: int = 6, seed: int = 0):
    gen = TrainingGenerator(SCALE, config, [get("homogeneous")], seed=seed)
    out = []
    for _ in range(n):
        stations = gen.layout()
        bound = gen.bind(stations)
        out.append((gen.picks(stations, bound, 600.0, 60.0), bound))
    return out


def _residuals(day, bound):
    """Observed minus predicted time of every true pick, with its station and phase."""
    true = day.pick_event >= 0
    ev, sta, ph = day.pick_event[true], day.pick_station[true], day.pick_true_phase[true]
    t = np.zeros(true.sum())
    for p in (0, 1):
        sel = ph == p
        with torch.no_grad():
            t[sel] = bound.pair_times(torch.as_tensor(day.event_xyz[ev[sel]]),
                                      torch.as_tensor(sta[sel]), "PS"[p]).numpy()
    return day.pick_time[true] - day.event_time[ev] - t, sta, ph


def test_a_config_without_the_options_gives_the_same_days():
    plain = _days(BASE, n=2)
    spelled = _days(dataclasses.replace(BASE, magnitude_detection_fraction=0.0,
                                        aftershock_fraction=0.0, s_miss_fraction=0.0), n=2)
    for (a, _), (b, _) in zip(plain, spelled, strict=True):
        assert np.array_equal(a.pick_time, b.pick_time)


def test_magnitude_law_makes_most_events_small_and_seen_by_few_stations():
    radius = _days(BASE)
    magnitude = _days(dataclasses.replace(BASE, magnitude_detection_fraction=1.0,
                                          magnitude_range=(0.5, 5.0)))

    def picks_per_event(days):
        counts = [np.bincount(d.pick_event[d.pick_event >= 0], minlength=len(d.event_time))
                  for d, _ in days]
        return np.concatenate(counts)

    by_radius, by_magnitude = picks_per_event(radius), picks_per_event(magnitude)
    # the radius law's events reach 30 km at least: most are seen by many stations
    assert np.median(by_radius[by_radius > 0]) > 20
    # Gutenberg-Richter: most events make no pick or a handful, a few make many
    assert np.median(by_magnitude) < 4
    seen = by_magnitude[by_magnitude >= 8]
    assert len(seen) >= 15 and (seen <= 16).mean() > 0.3 and seen.max() > 40


def test_aftershocks_cluster_in_space_and_time():
    def close_pairs(days):
        """Share of events with another within 10 km and 60 s."""
        share = []
        for d, _ in days:
            xyz, t = d.event_xyz, d.event_time
            sep = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
            near = (sep < 10.0) & (np.abs(t[:, None] - t[None]) < 60.0)
            share.append((near.sum(axis=1) > 1).mean())
        return np.mean(share)

    plain = close_pairs(_days(BASE))
    clustered = close_pairs(_days(dataclasses.replace(BASE, aftershock_fraction=0.7,
                                                      cluster_radius_km=(2.0, 2.0))))
    assert plain < 0.1 < 0.3 < clustered


def test_station_delays_shift_all_picks_of_a_station_and_s_more_than_p():
    days = _days(dataclasses.replace(BASE, station_static_s=(0.4, 0.4)), n=2)
    for day, bound in days:
        res, sta, ph = _residuals(day, bound)
        p_delay = np.array([np.median(res[(sta == s) & (ph == 0)]) for s in range(30)])
        s_delay = np.array([np.median(res[(sta == s) & (ph == 1)]) for s in range(30)])
        assert 0.2 < p_delay.std() < 0.7  # drawn with sd 0.4 s
        assert np.allclose(s_delay, 1.73 * p_delay, atol=0.1)


def test_laplace_errors_outliers_missed_s_and_duplicates():
    cfg = dataclasses.replace(BASE, pick_error_distribution="laplace",
                              outlier_fraction=(0.05, 0.2), outlier_spread_s=2.0,
                              s_miss_fraction=0.5, duplicate_fraction=0.1)
    plain_days, days = _days(BASE, n=3), _days(cfg, n=3)
    res = np.concatenate([_residuals(d, b)[0] for d, b in days])
    phase = np.concatenate([_residuals(d, b)[2] for d, b in days])
    far = np.abs(res) > 0.5  # 10 sigma of the core: only outliers
    # outliers are uniform over +-2 s: 3/4 of them lie beyond 0.5 s
    assert far[phase == 0].mean() == pytest.approx(0.75 * 0.05, abs=0.015)
    assert far[phase == 1].mean() == pytest.approx(0.75 * 0.2, abs=0.03)

    def s_to_p(ds):
        ph = np.concatenate([d.pick_true_phase[d.pick_event >= 0] for d, _ in ds])
        return (ph == 1).sum() / (ph == 0).sum()

    assert s_to_p(days) == pytest.approx(0.5 * s_to_p(plain_days), rel=0.15)
    n_false = sum((d.pick_event < 0).sum() for d, _ in days)
    n_true = sum((d.pick_event >= 0).sum() for d, _ in days)
    assert n_false == pytest.approx(0.1 * n_true, rel=0.2)  # the duplicates


def test_arrivals_from_outside_cross_the_network_as_plane_waves():
    cfg = dataclasses.replace(BASE, regional_arrivals_per_hour=(60.0, 60.0),
                              event_rate_per_hour=(0.0, 0.0))
    for day, _ in _days(cfg, n=2):
        assert (day.pick_event < 0).sum() > 20  # one arrival a minute at 40-100 % of stations
        # every pick lies on a plane wave: apparent velocity >= 6 km/s across <= 170 km
        assert np.ptp(day.pick_time) > 60.0


@pytest.mark.parametrize("bad", [{"pick_error_distribution": "cauchy"}, {"omori_p": 1.0},
                                 {"outlier_fraction": (0.1, 1.5)},
                                 {"magnitude_detection_fraction": 2.0},
                                 {"radius_at_m1_km": (20.0, 5.0)}])
def test_bad_generator_options_name_the_field(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(BASE, **bad)
