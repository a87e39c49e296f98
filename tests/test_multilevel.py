import numpy as np
import pytest
import scipy.stats as st

from devices import (
    InvalidParameterError,
    MultiLevelParams,
    MultiLevelRRAM,
    TruncatedDistribution,
    WearOutParams,
    allocate_levels,
    presets,
)
from devices._rng import derive_key
from devices.multilevel import level_sigma_s
from tests import reference

P = presets.CEA_LETI_130NM


def _levels(n, k, seed=0):
    return np.random.default_rng(seed).integers(0, k, n)


# -- program-and-verify against the slow twin -------------------------------------------------------


def test_program_matches_reference_draw_for_draw():
    params = MultiLevelParams(stuck_fraction=0.2, max_iterations=6)
    # limits of 2-40 writes: cells that may wear out during this programming (<= 12 writes left)
    # take the per-cell loop, the others the SIMD rounds; both must give the twin's draws
    cells = MultiLevelRRAM(300, params=params, wear_out=WearOutParams(
        TruncatedDistribution("uniform", 2.0, 38.0)), rng=4)  # fmt: skip
    stuck = cells.stuck.copy()
    failed = cells.failed.copy()
    g = cells._g.copy()
    counts = {k: cells.counters[k].copy() for k in ("set", "reset", "verify_read")}
    calls = cells._calls
    key_set = derive_key(cells._seed, 10, calls)
    lv = _levels(300, 8)
    idx = np.arange(300)
    targets = cells.level_conductances[lv]
    means = targets * cells._d2d  # identity I_cc map: the mean is the target times the D2D factor
    it_ref, ok_ref = reference.program_and_verify(
        idx, targets, means, g, stuck, failed, cells.wear.limit, cells.wear.stuck_lrs_on_failure,
        counts, key_set, params,
    )  # fmt: skip
    simple = (cells.stuck == 0) & (cells.wear.limit >= 2 * params.max_iterations)
    assert 50 < simple.sum() < 250  # both paths exercised
    res = cells.program(lv)
    # the kernel's pairs are evaluated in float32 (within 2e-6 of the twin's float64 ones):
    # iterations and outcomes agree exactly as long as no verify read of this seed falls within
    # ~2e-6 sigma of the tolerance edge (it does not), conductances to sigma * 2e-6 < 1e-10 S
    np.testing.assert_array_equal(res.iterations, it_ref)
    np.testing.assert_array_equal(res.converged, ok_ref)
    np.testing.assert_allclose(cells._g, g, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(cells.stuck, stuck)
    np.testing.assert_array_equal(cells.failed, failed)
    for k, v in counts.items():
        np.testing.assert_array_equal(cells.counters[k], v)
    assert failed.any() and (~ok_ref).any()  # the scenario exercised both paths
    key_read = derive_key(cells._seed, 13, cells._calls)
    key_relax = derive_key(cells._seed, 12, 0)
    expected = reference.multilevel_read(
        86400.0, g, stuck, np.ones(300), counts["set"], key_read, key_relax, params
    )
    np.testing.assert_allclose(cells.read(86400.0), expected, rtol=0, atol=1e-10)
    # the read itself, from the kernel's own conductances: to a few ulp
    key_read = derive_key(cells._seed, 13, cells._calls)
    expected = reference.multilevel_read(86400.0, cells._g.copy(), stuck, np.ones(300),
                                         counts["set"], key_read, key_relax, params)  # fmt: skip
    np.testing.assert_allclose(cells.read(86400.0), expected, rtol=1e-13)


def test_ziggurat_normal_twin_and_distribution():
    from devices._jit import jit
    from devices._rng import normal

    @jit
    def draw(key, n):
        out = np.empty(n)
        for i in range(n):
            out[i] = normal(key, np.uint64(i))
        return out

    key = derive_key(5, 0, 0)
    x = draw(key, 400_000)
    np.testing.assert_array_equal(x[:3000], [reference.normal(key, i) for i in range(3000)])
    assert st.kstest(x, "norm").pvalue > 1e-3
    tail = x[np.abs(x) > 3.3]  # the slow paths (wedges and tail) are exercised too
    assert st.kstest(np.abs(tail), lambda v: 1 - st.norm.sf(v) / st.norm.sf(3.3)).pvalue > 1e-3


# -- statistics of programming ---------------------------------------------------------------------


def test_program_and_verify_converges_like_spec():
    # docs/devices.md: ~3.8 iterations per cell, more at low G, ~3e-5 non-converged
    cells = MultiLevelRRAM(200_000, rng=1)
    lv = np.arange(200_000) % 8
    res = cells.program(lv)
    assert 3.4 < res.mean_iterations < 4.3
    per_level = [res.iterations[lv == k].mean() for k in range(8)]
    assert per_level[0] > per_level[-1] + 1.0
    assert res.n_not_converged < 60
    g0 = cells.read(0.0)
    ok = res.converged
    # accepted cells lie within the verify window (read noise aside: 1 % of G)
    err = np.abs(g0[ok] - cells.level_conductances[lv[ok]])
    assert np.quantile(err, 0.999) < P.verify_tolerance_s + 4 * 0.01 * 120e-6
    assert (cells.set_count == res.iterations).all() and (cells.reset_count == res.iterations).all()
    assert (cells.verify_count == res.iterations).all()


def test_iterations_follow_geometric_law_of_acceptance():
    # each attempt succeeds independently: iterations are geometric with the per-try acceptance
    params = MultiLevelParams(d2d_window_rel=0.0, read_noise_rel=0.0)
    cells = MultiLevelRRAM(50_000, params=params, rng=2)
    res = cells.program(np.full(50_000, 7))
    sigma = params.sigma_prog_s  # at g_max
    lo, hi = params.prog_low_fraction * params.g_min_s, params.prog_high_fraction * params.g_max_s
    mass = st.norm.cdf(hi, 120e-6, sigma) - st.norm.cdf(lo, 120e-6, sigma)
    p_accept = (st.norm.cdf(2e-6 / sigma) - st.norm.cdf(-2e-6 / sigma)) / mass
    assert res.mean_iterations == pytest.approx(1 / p_accept, rel=0.02)
    counts = np.bincount(res.iterations, minlength=8)[1:8]
    expected = 50_000 * p_accept * (1 - p_accept) ** np.arange(7)
    assert st.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue > 1e-3


def test_set_spread_falls_with_conductance():
    params = MultiLevelParams(d2d_window_rel=0.0)
    cells = MultiLevelRRAM(40_000, params=params, rng=3)
    low = np.arange(20_000)
    cells.set(icc_ua=float(cells.compliance_current_for(40e-6)), cells=low)
    cells.set(icc_ua=float(cells.compliance_current_for(110e-6)), cells=low + 20_000)
    g = cells.read(0.0)
    s_low, s_high = g[low].std(), g[low + 20_000].std()
    assert s_low == pytest.approx(4e-6 * np.sqrt(120 / 40), rel=0.05)
    assert s_high == pytest.approx(np.hypot(4e-6 * np.sqrt(120 / 110), 0.01 * 110e-6), rel=0.05)
    assert s_low > s_high
    assert (cells.set_count == 1).all() and (cells.reset_count == 0).all()


def test_word_line_voltage_sets_compliance_and_mean():
    cells = MultiLevelRRAM(10, rng=0)
    np.testing.assert_allclose(cells.compliance_current_ua([1.4, 2.2]), [9.0, 54.0])
    np.testing.assert_allclose(cells.mean_set_conductance([9.0, 54.0]), [20e-6, 120e-6])
    np.testing.assert_allclose(cells.compliance_current_for(cells.mean_set_conductance(30.0)), 30.0)
    big = MultiLevelRRAM(20_000, params=MultiLevelParams(d2d_window_rel=0.0, read_noise_rel=0.0),
                         rng=1)  # fmt: skip
    big.set(wl_voltage_v=1.8)
    assert big.read(0.0).mean() == pytest.approx(70e-6, rel=0.01)


def test_reset_returns_to_hrs_and_counts():
    cells = MultiLevelRRAM(100, rng=0)
    cells.program(np.zeros(100, dtype=int))
    cells.reset(np.arange(50))
    g = cells.read(0.0)
    assert np.allclose(g[:50], P.g_hrs_s, rtol=0.05)
    assert (cells.target_levels[:50] == -1).all() and (cells.target_levels[50:] == 0).all()
    assert (cells.reset_count[:50] == cells.set_count[:50] + 1).all()


# -- relaxation and BER ----------------------------------------------------------------------------


def test_relaxation_spread_grows_with_log_time_and_is_larger_at_low_levels():
    params = MultiLevelParams(read_noise_rel=0.0)
    cells = MultiLevelRRAM(80_000, params=params, rng=5)
    lv = np.where(np.arange(80_000) < 40_000, 0, 7)
    cells.program(lv)
    g0 = cells.read(0.0)
    drift = {t: cells.read(t) - g0 for t in (1.0, 60.0, 86400.0)}
    for level in (0, 7):
        sel = lv == level
        for t, d in drift.items():
            expected = (
                params.sigma_relax_s * np.sqrt(120e-6 / g0[sel]) * (1 + 0.1 * np.log10(t / 60.0))
            )
            assert d[sel].std() == pytest.approx(np.sqrt(np.mean(expected**2)), rel=0.03)
    assert drift[60.0][lv == 0].std() > 2 * drift[60.0][lv == 7].std()
    # the same cell relaxes in the same direction at every time (one z per programming)
    assert np.corrcoef(drift[1.0], drift[86400.0])[0, 1] > 0.99


def test_read_noise_is_fresh_at_every_read():
    params = MultiLevelParams(read_noise_rel=0.02)
    cells = MultiLevelRRAM(50_000, params=params, rng=6)
    cells.program(np.full(50_000, 4))
    a, b = cells.read(60.0), cells.read(60.0)
    rel = (a - b) / cells.level_conductances[4]
    assert rel.std() == pytest.approx(0.02 * np.sqrt(2), rel=0.03)
    assert (cells.counters["read"] == 2).all()


def test_ber_below_1e3_with_8_levels_after_60s():
    cells = MultiLevelRRAM(100_000, levels=8, rng=7)
    cells.program(np.arange(100_000) % 8)
    assert cells.bit_error_rate(0.0) < 1e-3
    assert cells.bit_error_rate(60.0) < 1e-3


def test_ber_grows_with_number_of_levels():
    bers = []
    for k in (4, 8, 16, 32):
        cells = MultiLevelRRAM(40_000, levels=k, rng=8)
        cells.program(np.arange(40_000) % k)
        bers.append(cells.bit_error_rate(60.0))
    assert bers[0] <= bers[1] < bers[2] < bers[3]
    assert bers[3] > 0.05


# -- level allocation ------------------------------------------------------------------------------


def test_linear_allocation():
    np.testing.assert_allclose(allocate_levels(6), np.linspace(20e-6, 120e-6, 6))


def test_statistics_allocation_equalises_margins():
    g = allocate_levels(8, allocation="statistics")
    assert g[0] == 20e-6 and g[-1] == 120e-6 and np.all(np.diff(g) > 0)
    sig = level_sigma_s(g, P, 60.0)
    k = np.diff(g) / (sig[:-1] + sig[1:])
    np.testing.assert_allclose(k, k[0], rtol=1e-6)
    assert np.diff(g)[0] > np.diff(g)[-1]  # wider gaps at low conductance
    cells = MultiLevelRRAM(10, levels=8, allocation="statistics", rng=0)
    np.testing.assert_allclose(cells.level_conductances, g)


# -- faults and wear-out ---------------------------------------------------------------------------


def test_stuck_at_faults_fraction_and_split():
    params = MultiLevelParams(stuck_fraction=0.1, stuck_low_probability=0.3)
    cells = MultiLevelRRAM(100_000, params=params, rng=9)
    assert cells.faulty.mean() == pytest.approx(0.1, abs=0.004)
    low = (cells.stuck == 1).sum() / cells.faulty.sum()
    assert low == pytest.approx(0.3, abs=0.015)
    res = cells.program(np.full(100_000, 3))
    g = cells.read(60.0)
    assert not res.converged[cells.faulty].any()
    assert np.allclose(g[cells.stuck == 1], params.g_stuck_low_s, rtol=0.05)
    assert np.allclose(g[cells.stuck == 2], params.g_stuck_high_s, rtol=0.05)
    assert (res.iterations[cells.faulty] == params.max_iterations).all()


def test_cell_fails_exactly_when_its_counter_passes_its_limit():
    wear = WearOutParams(TruncatedDistribution("uniform", 10.0, 30.0), stuck_lrs_probability=0.5)
    cells = MultiLevelRRAM(2000, wear_out=wear, rng=10)
    limit = cells.wear.limit
    for _ in range(25):
        cells.set(icc_ua=30.0)
        writes = cells.pulse_count
        np.testing.assert_array_equal(cells.failed, writes > limit)
    failed = cells.failed
    g = cells.read(0.0)
    lrs = cells.wear.stuck_lrs_on_failure
    assert np.allclose(g[failed & lrs], P.g_stuck_high_s, rtol=0.05)
    assert np.allclose(g[failed & ~lrs], P.g_stuck_low_s, rtol=0.05)
    assert 0.4 < lrs[failed].mean() < 0.6


def test_box_muller_normals_twin_and_distribution():
    from devices._rng import fill_normals

    key = derive_key(9, 1, 0)
    z = np.empty(2_000_000)
    fill_normals(key, np.uint64(77), z)
    # polynomial log/cos/sin against numpy's: a few ulp of each factor
    np.testing.assert_allclose(z[:20_000], reference.normal_pairs(key, 77, 10_000),
                               rtol=1e-13, atol=1e-13)  # fmt: skip
    assert st.kstest(z, "norm").pvalue > 1e-3
    for t in (2.0, 3.0, 4.0):  # tails: counts within 5 binomial sigmas
        p = 2 * st.norm.sf(t)
        assert abs((np.abs(z) > t).sum() - p * z.size) < 5 * np.sqrt(p * z.size)
    assert abs(np.corrcoef(z[0::2], z[1::2])[0, 1]) < 5 / np.sqrt(z.size / 2)  # pair members
    assert np.abs(z).max() <= np.sqrt(2 * 33 * np.log(2))  # the documented truncation


def test_float32_box_muller_pairs_match_the_float64_ones():
    """The float32 kernel of the crossbar read noise: the same draws, float32 rounding only."""
    from devices._rng import fill_normals32

    key = derive_key(9, 1, 0)
    n = 1_000_000
    z = np.empty(2 * n, dtype=np.float32)
    fill_normals32(key, np.uint64(77), np.empty(n, np.uint32), np.empty(n, np.uint32), z)
    ref = reference.normal_pairs(key, 77, n)
    # ~10 float32 ulp at |z| = 5, including radii near 0 (u1 near 1, f - 1 from the integers)
    np.testing.assert_allclose(z, ref, rtol=0, atol=2e-6)
    radius, radius_ref = np.hypot(z[0::2], z[1::2]), np.hypot(ref[0::2], ref[1::2])
    small = radius_ref < 1e-2
    assert small.sum() > 20
    np.testing.assert_allclose(radius[small], radius_ref[small], rtol=1e-4, atol=0)
    assert st.kstest(z, "norm").pvalue > 1e-3
    assert np.abs(z).max() <= np.sqrt(2 * 33 * np.log(2))


def test_default_endurance_limits_are_lognormal_median_1e6():
    cells = MultiLevelRRAM(50_000, rng=11)
    lim = cells.wear.limit.astype(float)
    assert np.median(lim) == pytest.approx(1e6, rel=0.03)
    assert np.log(lim).std() == pytest.approx(1.0, rel=0.03)
    assert MultiLevelRRAM(10, wear_out=None, rng=0).wear.limit.min() > 1e18


# -- determinism and persistence -------------------------------------------------------------------


def test_results_do_not_depend_on_thread_count(assert_thread_independent):
    def simulate():
        cells = MultiLevelRRAM(20_001, rng=12)
        res = cells.program(_levels(20_001, 8))
        return res.iterations, cells.read(60.0)

    assert_thread_independent(simulate)


def test_save_load_resumes_exactly(tmp_path):
    a = MultiLevelRRAM(3000, levels=6, allocation="statistics",
                       params=MultiLevelParams(stuck_fraction=0.05), rng=13)  # fmt: skip
    a.program(_levels(3000, 6))
    a.read(5.0)
    a.save(tmp_path / "cells.npz")
    b = MultiLevelRRAM.load(tmp_path / "cells.npz")
    np.testing.assert_array_equal(a.level_conductances, b.level_conductances)
    np.testing.assert_array_equal(a.read(60.0), b.read(60.0))
    ra, rb = a.program(_levels(3000, 6, 1)), b.program(_levels(3000, 6, 1))
    np.testing.assert_array_equal(ra.iterations, rb.iterations)
    for kind in ("set", "reset", "verify_read", "read"):
        np.testing.assert_array_equal(a.counters[kind], b.counters[kind])
    np.testing.assert_array_equal(a.wear.limit, b.wear.limit)
    assert a.params == b.params


def test_program_subset_leaves_others_untouched():
    cells = MultiLevelRRAM(100, rng=14)
    cells.program(np.zeros(100, dtype=int))
    before = cells.conductance(0.0)
    counts = cells.set_count.copy()
    cells.program(np.array([7, 7]), cells=np.array([3, 10]))
    assert cells.target_levels[3] == 7 and cells.target_levels[4] == 0
    changed = np.flatnonzero(cells.set_count != counts)
    np.testing.assert_array_equal(changed, [3, 10])
    after = cells.conductance(0.0)
    others = np.setdiff1d(np.arange(100), [3, 10])
    np.testing.assert_array_equal(after[others], before[others])
    assert (after[[3, 10]] > 100e-6).all()


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_cells=0), "'n_cells'"),
        (dict(n_cells=10, levels=1), "'levels'.*\\[2, 1024\\]"),
        (dict(n_cells=10, allocation="stats"), "Did you mean 'statistics'"),
        (dict(n_cells=10, level_conductances_s=[10e-6, 50e-6]), "inside the window"),
        (dict(n_cells=10, level_conductances_s=[50e-6, 30e-6]), "strictly increasing"),
        (dict(n_cells=10, level_conductances_s=[50e-6]), "at least 2"),
        (dict(n_cells=10, params="MAJUMDAR2021"), "MultiLevelParams"),
        (dict(n_cells=10, params="CEA_LETI_130"), "Did you mean 'CEA_LETI_130NM'"),
        (dict(n_cells=10, wear_out=5), "'wear_out'"),
        (dict(n_cells=10, rng=-3), "'rng'"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        MultiLevelRRAM(**kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(g_min_s=130e-6), "g_min_s < g_max_s"),
        (dict(g_min_s=-1e-6), "'g_min_s'"),
        (dict(sigma_prog_s=-1.0), "'sigma_prog_s'"),
        (dict(read_noise_rel=0.9), "'read_noise_rel'"),
        (dict(stuck_fraction=1.5), "'stuck_fraction'"),
        (dict(stuck_low_probability=-0.1), "'stuck_low_probability'"),
        (dict(max_iterations=0), "'max_iterations'"),
        (dict(verify_tolerance_s=0.0), "'verify_tolerance_s'"),
        (dict(icc_points_ua=(10.0, 5.0)), "strictly increasing"),
        (dict(icc_points_ua=(-1.0, 5.0)), "non-negative"),
        (dict(icc_points_ua=(1.0, 5.0, 9.0)), "same length"),
        (dict(relax_reference_s=0.0), "'relax_reference_s'"),
    ],
)
def test_params_reject_bad_values(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        MultiLevelParams(**kwargs)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(stuck_lrs_probability=2.0), "'stuck_lrs_probability'"),
        (dict(limit_writes=1e6), "TruncatedDistribution"),
        (dict(limit_writes=TruncatedDistribution("norm", 0.0, 1.0)), "non-negative"),
    ],
)
def test_wear_out_params_reject_bad_values(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        WearOutParams(**kwargs)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda c: c.program(np.full(10, 8)), "\\[0, 7\\]. Got 8"),
        (lambda c: c.program(np.full(10, -1)), "Got -1"),
        (lambda c: c.program(np.full(9, 1)), "shape \\(10,\\)"),
        (lambda c: c.program(np.full(10, 1.0)), "integer array"),
        (lambda c: c.program(np.array([1, 1]), cells=np.array([1, 1])), "must not repeat"),
        (lambda c: c.program(np.array([1]), cells=np.array([10])), "indices in \\[0, 9\\]"),
        (lambda c: c.program(np.array([1]), cells=np.array([0.5])), "1-D integer array"),
        (lambda c: c.read(-1.0), "'t'"),
        (lambda c: c.read(np.full(10, -1.0)), "'t'"),
        (lambda c: c.read(np.full(3, 1.0)), "shape \\(10,\\)"),
        (lambda c: c.read(float("nan")), "'t'"),
        (lambda c: c.set(), "exactly one of"),
        (lambda c: c.set(icc_ua=5.0, wl_voltage_v=1.5), "exactly one of"),
        (lambda c: c.set(icc_ua=-5.0), "'icc_ua'"),
        (lambda c: c.set(wl_voltage_v=-1.0), "'wl_voltage_v'"),
        (lambda c: c.bit_error_rate(), "no cell has been programmed"),
    ],
)
def test_methods_reject_bad_input(call, match):
    cells = MultiLevelRRAM(10, rng=0)
    with pytest.raises(InvalidParameterError, match=match):
        call(cells)


def test_allocate_levels_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match="'levels'"):
        allocate_levels(1)
    with pytest.raises(InvalidParameterError, match="'allocation'"):
        allocate_levels(4, allocation="log")
    with pytest.raises(InvalidParameterError, match="'t_s'"):
        allocate_levels(4, allocation="statistics", t_s=-1.0)


def test_conductance_is_the_noiseless_state_reads_sample_from():
    params = MultiLevelParams(read_noise_rel=0.05)
    cells = MultiLevelRRAM(20_000, params=params, rng=15)
    cells.program(np.full(20_000, 5))
    g = cells.conductance(60.0)
    np.testing.assert_array_equal(g, cells.conductance(60.0))
    assert (cells.counters["read"] == 0).all()
    reads = cells.read(60.0)
    assert np.mean(reads / g) == pytest.approx(1.0, abs=2e-3)
    assert np.std(reads / g) == pytest.approx(0.05, rel=0.03)


def test_partial_conductance_refresh_equals_full_recompute():
    cells = MultiLevelRRAM(5000, rng=16)
    cells.program(np.arange(5000) % 8)
    g = cells.conductance(60.0)
    idx = np.array([3, 17, 4000])
    cells.program(np.array([7, 0, 2]), cells=idx)
    cells.conductance(60.0, cells=idx, out=g)
    np.testing.assert_array_equal(g, cells.conductance(60.0))
    with pytest.raises(InvalidParameterError, match="'out'"):
        cells.conductance(60.0, out=np.empty(3))


def test_program_changed_writes_only_cells_whose_level_changes():
    cells = MultiLevelRRAM(500, levels=8, rng=2)
    first = np.arange(500) % 8
    res = cells.program_changed(first)
    np.testing.assert_array_equal(res.cells, np.arange(500))  # nothing programmed yet: all
    writes = cells.pulse_count.copy()
    target = first.copy()
    target[::7] = (target[::7] + 3) % 8
    res = cells.program_changed(target)
    changed = np.flatnonzero(target != first)
    np.testing.assert_array_equal(res.cells, changed)
    np.testing.assert_array_equal(res.levels, target[changed])
    np.testing.assert_array_equal(cells.target_levels, target)
    untouched = np.setdiff1d(np.arange(500), changed)
    np.testing.assert_array_equal(cells.pulse_count[untouched], writes[untouched])
    assert (cells.pulse_count[changed] > writes[changed]).all()
    assert cells.program_changed(target).cells.size == 0  # again: nothing to do


@pytest.mark.parametrize(
    "levels,match",
    [
        (np.zeros(499, dtype=int), "shape"),
        (np.zeros(500), "integer"),
        (np.full(500, 8), r"\[0, 7\]"),
        (np.full(500, -1), r"\[0, 7\]"),
    ],
)
def test_program_changed_rejects_bad_levels(levels, match):
    cells = MultiLevelRRAM(500, levels=8, rng=2)
    with pytest.raises(InvalidParameterError, match=match):
        cells.program_changed(levels)


def test_even_level_step_is_the_spacing_of_linear_levels_only():
    linear = MultiLevelRRAM(10, levels=8, allocation="linear", rng=0)
    assert linear.even_level_step == pytest.approx(np.diff(linear.level_conductances)[0])
    uneven = MultiLevelRRAM(10, level_conductances_s=[20e-6, 30e-6, 60e-6], rng=0)
    assert uneven.even_level_step == 0.0
    np.testing.assert_array_equal(uneven.nearest_level(np.array([24e-6, 26e-6, 50e-6])), [0, 1, 2])


def test_cell_pool_draws_what_each_population_draws_alone():
    """A pool programs cells of several populations in one call with each population's own keys
    and cell numbers: the same states, counters and conductances as programming them one by
    one, and the populations' own methods keep working on the shared buffers."""
    from devices import CellPool

    def populations():
        return [MultiLevelRRAM(n, params=MultiLevelParams(stuck_fraction=0.05), rng=seed)
                for n, seed in ((300, 1), (500, 2), (200, 3))]  # fmt: skip

    alone, pooled = populations(), populations()
    pool = CellPool(pooled)
    rng = np.random.default_rng(4)
    for _ in range(3):
        picks = [np.sort(rng.choice(p.n_cells, p.n_cells // 3, replace=False)) for p in alone]
        levels = [rng.integers(0, 8, c.size) for c in picks]
        results = [p.program(lv, cells=c) for p, c, lv in zip(alone, picks, levels, strict=True)]
        cells = np.concatenate([c + pool.offsets[k] for k, c in enumerate(picks)])
        pops = np.repeat(np.arange(3), [c.size for c in picks])
        out = np.zeros(pool.n_cells)
        it, ok = pool.program(cells, np.concatenate(levels), pops, refresh=(60.0, out))
        np.testing.assert_array_equal(it, np.concatenate([r.iterations for r in results]))
        np.testing.assert_array_equal(ok, np.concatenate([r.converged for r in results]))
        again = np.zeros(pool.n_cells)
        pool.conductance(60.0, cells, pops, again)
        np.testing.assert_array_equal(out[cells], again[cells])
        for k, a in enumerate(alone):
            np.testing.assert_array_equal(out[pool.offsets[k] : pool.offsets[k + 1]][picks[k]],
                                          a.conductance(60.0)[picks[k]])  # fmt: skip
    for a, b in zip(alone, pooled, strict=True):
        meta_a, arrays_a = a.state()
        meta_b, arrays_b = b.state()
        assert meta_a == meta_b
        for key in arrays_a:
            np.testing.assert_array_equal(arrays_a[key], arrays_b[key])
        np.testing.assert_array_equal(a.read(60.0), b.read(60.0))  # methods on the views
