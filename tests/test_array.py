import numpy as np
import pytest
import scipy.stats as st

from crossbar.array import CrossbarArray, TiledMatrix
from crossbar.config import ADCConfig, CrossbarConfig, DACConfig, EnergyModel
from devices import InvalidParameterError, MultiLevelParams
from devices._rng import derive_key
from tests import reference
from tests.reference import ir_drop_direct


def _w(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize("mapping", ["differential", "reference"])
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (130, 257), (300, 200)])
def test_ideal_mvm_equals_matmul(mapping, shape):
    w = _w(shape)
    x = _w((4, shape[1]), 1)
    m = TiledMatrix(w, CrossbarConfig.ideal(mapping=mapping, tile_rows=64, tile_cols=48), rng=0)
    np.testing.assert_allclose(m.matvec(x), x @ w.T, rtol=1e-10, atol=1e-12 * np.abs(x @ w.T).max())
    np.testing.assert_allclose(
        m.matvec(x[0]), x[0] @ w.T, rtol=1e-10, atol=1e-12 * np.abs(x @ w.T).max()
    )
    np.testing.assert_allclose(m.effective_weight(), w, atol=1e-12 * np.abs(w).max())


def test_quantized_devices_without_noise_or_converters_equal_effective_weights():
    w = _w((40, 70))
    x = _w((6, 70), 1)
    cfg = CrossbarConfig(read_noise=False, dac=DACConfig(bits=None), adc=ADCConfig(bits=None))
    m = TiledMatrix(w, cfg, rng=2)
    eff = m.effective_weight(60.0)
    np.testing.assert_allclose(m.matvec(x), x @ eff.T, rtol=1e-9, atol=1e-12)
    # 8 levels per device: the effective weights sit near 15 evenly spaced values
    step = np.abs(w).max() / 7
    off_grid = np.abs(eff - np.round(eff / step) * step)
    assert np.quantile(off_grid, 0.9) < 0.3 * step and off_grid.max() < 0.5 * step


@pytest.mark.parametrize("bits", [4, 8])
def test_dac_quantization_error_within_its_bound(bits):
    w = _w((30, 50))
    x = _w((20, 50), 3)
    cfg = CrossbarConfig.ideal(dac=DACConfig(bits=bits))
    y = TiledMatrix(w, cfg, rng=0).matvec(x)
    lsb = np.abs(x).max(axis=1) / (2 ** (bits - 1) - 1)  # per input vector
    bound = 0.5 * lsb[:, None] * np.abs(w).sum(axis=1)[None, :]
    assert (np.abs(y - x @ w.T) <= bound * (1 + 1e-9)).all()


@pytest.mark.parametrize("bits", [3, 8])
def test_adc_quantization_error_within_its_bound(bits):
    w = _w((30, 300))
    x = _w((20, 300), 4)
    cfg = CrossbarConfig.ideal(adc=ADCConfig(bits=bits), tile_rows=128)
    m = TiledMatrix(w, cfg, rng=0)
    y = m.matvec(x)
    _dg, _, _, _, step = m._assemble(60.0)
    scale = np.abs(x).max(axis=1) / (cfg.dac.v_read_v * m.g_per_weight)
    bound = 0.5 * step.sum(axis=0)[None, :] * scale[:, None]  # half a step per row tile
    assert (np.abs(y - x @ w.T) <= bound * (1 + 1e-9)).all()


def test_read_noise_statistics_match_the_analytic_variance():
    params = MultiLevelParams(read_noise_rel=0.05)
    cfg = CrossbarConfig(device=params, dac=DACConfig(bits=None), adc=ADCConfig(bits=None))
    w = _w((8, 100))
    m = TiledMatrix(w, cfg, rng=5)
    x = np.tile(_w((1, 100), 6), (20_000, 1))
    y = m.matvec(x)
    eff = m.effective_weight(60.0)
    mean = x[0] @ eff.T
    # predicted std of each output: sigma * sqrt(sum_i v_i^2 (G+^2 + G-^2)) in weight units
    _dg, sq, _, _, _ = m._assemble(60.0)
    v = x[0] / np.abs(x[0]).max() * cfg.dac.v_read_v
    sd = 0.05 * np.sqrt((v**2) @ sq[0]) * np.abs(x[0]).max() / (cfg.dac.v_read_v * m.g_per_weight)
    np.testing.assert_allclose(y.mean(axis=0), mean, atol=5 * sd.max() / np.sqrt(20_000))
    np.testing.assert_allclose(y.std(axis=0), sd, rtol=0.03)
    assert st.kstest((y[:, 0] - mean[0]) / sd[0], "norm").pvalue > 1e-3


def test_programming_counts_writes_and_reading_counts_only_reads():
    m = TiledMatrix(_w((20, 30)), CrossbarConfig(tile_rows=16, tile_cols=16), rng=7)
    sets = [a.cells.set_count.copy() for a in m.arrays]
    assert sum(s.sum() for s in sets) > 0
    m.matvec(_w((3, 30), 1))
    m.matvec(_w((2, 30), 2))
    for a, s in zip(m.arrays, sets, strict=True):
        np.testing.assert_array_equal(a.cells.set_count, s)
        assert a.read_count == 5
    # write-on-change: the same weights again write nothing, one changed weight writes one pair
    assert m.program(m.effective_weight(0.0) * 0 + _w((20, 30))) == []
    w2 = _w((20, 30))
    k = np.unravel_index(np.argmax(np.abs(w2)), w2.shape)
    w2[k] = -w2[k]  # the largest weight changes sign: its two devices change level
    results = m.program(w2)
    assert sum(r.cells.size for r in results) == 2


def test_ir_drop_option_uses_the_circuit_solver():
    cfg = CrossbarConfig.ideal(ir_drop=True, r_wl_ohm=5.0, r_bl_ohm=5.0, tile_rows=32, tile_cols=32)
    a = CrossbarArray(32, 32, cfg, rng=0)
    g = np.random.default_rng(1).uniform(20e-6, 120e-6, (32, 32))
    a.program_conductances(g)
    v = np.random.default_rng(2).uniform(0, 0.2, (3, 32))
    np.testing.assert_allclose(a.currents(v), ir_drop_direct(g, v, 5.0, 5.0), rtol=1e-6)
    w = _w((10, 20))
    m = TiledMatrix(w, cfg, rng=0)
    ideal = TiledMatrix(w, CrossbarConfig.ideal(tile_rows=32, tile_cols=32), rng=0)
    x = np.abs(_w((2, 20), 3))
    assert not np.allclose(m.matvec(x), ideal.matvec(x))


def test_energy_and_latency_estimate():
    m = TiledMatrix(_w((64, 256)), CrossbarConfig(), rng=0)
    m.matvec(_w((4, 256), 1))
    s = m.last_stats
    assert s.energy_j == pytest.approx(
        s.cell_energy_j + s.dac_energy_j + s.adc_energy_j + s.digital_energy_j, rel=1e-9, abs=0
    )
    assert s.adc_conversions == 4 * 64 * 2  # 2 row tiles, one conversion per column each
    assert s.adc_energy_j == pytest.approx(s.adc_conversions * 20e-15 * 2**8, rel=1e-9, abs=0)
    assert s.latency_s > 0 and s.cell_energy_j > 0


@pytest.mark.parametrize("mapping", ["differential", "reference"])
def test_cell_energy_is_the_sum_of_v2_g_over_the_read_cells(mapping):
    cfg = CrossbarConfig(mapping=mapping, dac=DACConfig(bits=None))
    w, x = _w((40, 200)), _w((3, 200), 2)
    m = TiledMatrix(w, cfg, rng=0)
    m.matvec(x)
    v = x / np.abs(x).max(axis=1, keepdims=True) * cfg.dac.v_read_v
    row_g = np.zeros(200)  # conductance on each word line, over every array it crosses
    for ri, r0 in enumerate(m._row_starts):
        for arrays in m.tiles[ri]:
            for a in arrays:
                row_g[r0 : r0 + a.rows] += a.conductance(cfg.read_time_s).sum(axis=1)
    expected = float((v**2).sum(axis=0) @ row_g) * cfg.energy.read_pulse_s
    m.program(np.roll(w, 1, axis=1))  # the estimate is made when asked for, of the read made
    assert m.last_stats.cell_energy_j == pytest.approx(expected, rel=1e-6, abs=0)


def test_results_do_not_depend_on_thread_count(assert_thread_independent):
    w = _w((50, 300))
    x = _w((8, 300), 1)
    assert_thread_independent(lambda: (TiledMatrix(w, CrossbarConfig(), rng=3).matvec(x),))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: TiledMatrix(np.ones(3)), "'weight'.*2-D"),
        (lambda: TiledMatrix(np.array([[1.0, np.nan]])), "'weight'.*finite"),
        (lambda: TiledMatrix(np.ones((2, 2)), config="x"), "'config'"),
        (lambda: TiledMatrix(np.ones((2, 3))).matvec(np.ones(2)), "'x'.*\\(3,\\)"),
        (lambda: TiledMatrix(np.ones((2, 3))).matvec(np.array([1, np.inf, 0])), "'x'.*finite"),
        (lambda: TiledMatrix(np.ones((2, 3))).program(np.ones((3, 2))), "shape \\(2, 3\\)"),
        (
            lambda: TiledMatrix(
                np.ones((2, 3)), CrossbarConfig(dac=DACConfig(signed=False))
            ).matvec(-np.ones(3)),
            "unsigned DAC",
        ),
        (lambda: DACConfig(bits=0), "'bits'.*\\[1, 16\\]"),
        (lambda: DACConfig(bits=17), "'bits'"),
        (lambda: ADCConfig(bits=20), "'bits'"),
        (lambda: ADCConfig(bits=1), "'bits'.*\\[2, 16\\]"),
        (lambda: DACConfig(bits=1), "signed DAC"),
        (lambda: ADCConfig(full_scale_a=-1.0), "'full_scale_a'"),
        (lambda: DACConfig(v_read_v=0.0), "'v_read_v'"),
        (lambda: CrossbarConfig(r_wl_ohm=-1.0), "'r_wl_ohm'"),
        (lambda: CrossbarConfig(r_bl_ohm=0.0), "'r_bl_ohm'"),
        (lambda: CrossbarConfig(mapping="diff"), "Did you mean 'differential'"),
        (lambda: CrossbarConfig(levels=1), "'levels'"),
        (lambda: CrossbarConfig(tile_rows=0), "'tile_rows'"),
        (lambda: CrossbarConfig(read_time_s=-1.0), "'read_time_s'"),
        (
            lambda: CrossbarArray(4, 4).program_levels(np.zeros((3, 4), dtype=int)),
            "shape \\(4, 4\\)",
        ),
        (
            lambda: CrossbarArray(4, 4).program_conductances(np.zeros((4, 4))),
            "ideal or analog devices",
        ),
        (
            lambda: CrossbarArray(2, 2, CrossbarConfig.ideal()).program_conductances(
                np.ones((2, 2))
            ),
            "window",
        ),
        (lambda: CrossbarArray(2, 2).currents(np.ones(3)), "'v'"),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


def test_rejected_call_leaves_state_unchanged():
    m = TiledMatrix(_w((6, 9)), CrossbarConfig(tile_rows=4, tile_cols=4), rng=1)
    before = [a.cells.set_count.copy() for a in m.arrays]
    eff = m.effective_weight(0.0)
    with pytest.raises(InvalidParameterError):
        m.program(np.full((6, 9), np.nan))
    with pytest.raises(InvalidParameterError):
        m.matvec(np.ones((2, 8)))
    for a, s in zip(m.arrays, before, strict=True):
        np.testing.assert_array_equal(a.cells.set_count, s)
        assert a.read_count == 0
    np.testing.assert_array_equal(m.effective_weight(0.0), eff)


def test_state_round_trip_keeps_a_free_weight_range():
    cfg = CrossbarConfig(tile_rows=4, tile_cols=4)
    w = _w((5, 6))
    a = TiledMatrix(w, cfg, rng=1)
    b = TiledMatrix(0 * w + 1.0, cfg, rng=2)
    b.load_state(*a.state())
    assert b.config.weight_range is None
    a.program(3 * w)
    b.program(3 * w)
    assert a.weight_range == b.weight_range
    np.testing.assert_array_equal(a.effective_weight(0.0), b.effective_weight(0.0))


def test_one_bit_unsigned_dac_works():
    w = _w((3, 4))
    x = np.abs(_w((2, 4), 1))
    cfg = CrossbarConfig.ideal(dac=DACConfig(bits=1, signed=False))
    y = TiledMatrix(w, cfg, rng=0).matvec(x)
    assert np.all(np.isfinite(y))


def test_sigma_adc_range_resolves_typical_currents_better():
    w = _w((64, 256))
    x = np.random.default_rng(5).uniform(-1, 1, (200, 256))
    errors = {}
    for mode in ("max", "sigma"):
        cfg = CrossbarConfig.ideal(adc=ADCConfig(bits=6, range_mode=mode))
        y = TiledMatrix(w, cfg, rng=0).matvec(x)
        errors[mode] = np.sqrt(np.mean((y - x @ w.T) ** 2) / np.mean((x @ w.T) ** 2))
    assert errors["sigma"] < 0.5 * errors["max"]
    with pytest.raises(InvalidParameterError, match="'range_mode'"):
        ADCConfig(range_mode="auto")


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: CrossbarConfig(tile_cols=1), "'tile_cols'"),
        (lambda: CrossbarConfig(allocation="log"), "'allocation'"),
        (lambda: CrossbarConfig(device="CEA"), "'device'"),
        (lambda: CrossbarConfig(wear_out=1.0), "'wear_out'"),
        (lambda: CrossbarConfig(weight_range=0.0), "'weight_range'"),
        (lambda: CrossbarConfig(dac=ADCConfig()), "'dac'.*DACConfig"),
        (lambda: CrossbarConfig(adc=DACConfig()), "'adc'.*ADCConfig"),
        (lambda: CrossbarConfig(energy=1.0), "'energy'.*EnergyModel"),
        (lambda: CrossbarConfig(read_precision="bf16"), "'read_precision'.*'fast'"),
        (lambda: DACConfig(input_range=-1.0), "'input_range'"),
        (lambda: ADCConfig(range_sigmas=0.0), "'range_sigmas'"),
        (lambda: EnergyModel(read_pulse_s=-1.0), "'read_pulse_s'"),
        (lambda: EnergyModel(adc_fom_j_per_step=float("nan")), "'adc_fom_j_per_step'"),
        (lambda: EnergyModel(adcs_per_tile=0), "'adcs_per_tile'"),
    ],
)
def test_every_config_validation(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


@pytest.mark.parametrize("n_t", [0, 2])
def test_read_out_kernel_matches_a_written_out_loop(n_t):
    """Noise from the documented counters, ADC rounding and saturation, reference columns."""
    from crossbar._mvm_kernels import read_out

    gen = np.random.default_rng(4)
    n_r, n_b, n_c = 3, 5, 7
    mean = gen.normal(size=(n_r, n_b, n_c))
    var = gen.uniform(0.01, 0.2, size=(n_r, n_b, n_c))
    ref_mean = gen.normal(size=(n_r, n_b, n_t))
    ref_var = gen.uniform(0.01, 0.2, size=(n_r, n_b, n_t))
    col_tile = np.arange(n_c) % max(n_t, 1)
    step = gen.uniform(0.05, 0.3, size=(n_r, n_c))
    step[0, 0] = 0.0  # an ideal ADC column
    scale = gen.uniform(0.5, 2.0, size=n_b)
    key = derive_key(3, 2, 1)
    out = np.empty((n_b, n_c))
    read_out(mean, var, ref_mean, ref_var, col_tile, step, 5, key, scale, out)
    pairs = (n_c + n_t + 1) // 2
    expected = np.zeros((n_b, n_c))
    for r in range(n_r):
        for b in range(n_b):
            z = reference.normal_pairs(key, (r * n_b + b) * pairs, pairs)
            for c in range(n_c):
                cur = mean[r, b, c] + np.sqrt(var[r, b, c]) * z[c]
                if n_t:
                    t = col_tile[c]
                    cur -= ref_mean[r, b, t] + np.sqrt(ref_var[r, b, t]) * z[n_c + t]
                s = step[r, c]
                if s > 0:
                    cur = np.copysign(min(np.floor(abs(cur) / s + 0.5), 5) * s, cur)
                expected[b, c] += cur
    np.testing.assert_allclose(out, expected * scale[:, None], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_terms", [1, 2])
def test_fast_read_out_kernel_matches_a_written_out_loop(n_terms):
    """read_out32: partial products, bfloat16 variances, the documented normal counters, float32
    ADC rounding and saturation, an ideal-ADC column."""
    import torch

    from crossbar._mvm_kernels import read_out32, read_out32_tile
    from devices._rng import fill_normals32

    gen = np.random.default_rng(5)
    n_r, n_b, n_c = 3, 5, 7
    if n_terms == 1:
        terms = gen.normal(size=(n_r, n_b, n_c)).astype(np.float32)
    else:
        terms = gen.integers(-(2**20), 2**20, size=(n_r, n_b, n_terms * n_c)).astype(np.int32)
    weights = gen.uniform(0.5, 2.0, size=(n_r, n_terms * n_c)).astype(np.float32)
    weights /= np.float32(2**20) if n_terms > 1 else np.float32(1.0)
    var = torch.from_numpy(gen.uniform(0.01, 0.2, size=(n_r, n_b, n_c)).astype(np.float32))
    var_bits = var.bfloat16().view(torch.int16).numpy().view(np.uint16)
    step = gen.uniform(0.05, 0.3, size=(n_r, n_c)).astype(np.float32)
    step[0, 0] = 0.0  # an ideal ADC column
    scale = gen.uniform(0.5, 2.0, size=n_b)
    key = derive_key(3, 2, 1)
    out = np.empty((n_b, n_c))
    inv_step = np.divide(np.float32(1), step, out=np.zeros_like(step), where=step > 0)
    read_out32(terms, weights, var_bits, step, inv_step, 5, key, scale, out)
    pairs = (n_c + 1) // 2
    f32 = np.float32
    expected = np.zeros((n_b, n_c))
    for b in range(n_b):
        z = np.empty(2 * n_r * pairs, dtype=np.float32)
        fill_normals32(key, np.uint64(b * n_r * pairs), np.empty(n_r * pairs, np.uint32),
                       np.empty(n_r * pairs, np.uint32), z)  # fmt: skip
        for r in range(n_r):
            for c in range(n_c):
                m = f32(f32(terms[r, b, c]) * weights[r, c])
                if n_terms == 2:
                    m = f32(m + f32(f32(terms[r, b, n_c + c]) * weights[r, n_c + c]))
                sd = np.sqrt(f32(var.bfloat16().float()[r, b, c].item()))
                cur = f32(m + f32(sd * z[r * 2 * pairs + c]))
                s = step[r, c]
                if s > 0:
                    code = min(np.floor(f32(abs(cur) * inv_step[r, c]) + f32(0.5)), f32(5.0))
                    cur = np.copysign(f32(code * s), cur)
                expected[b, c] += float(cur)
    np.testing.assert_array_equal(out, expected * scale[:, None])  # the same sums, in order
    # row tile by row tile from outside, on each tile's own arrays, into a dirty output (the
    # integer read: each tile read out right after its product)
    tiled = np.full((n_b, n_c), np.nan)
    for r in range(n_r):
        read_out32_tile(r, n_r, np.ascontiguousarray(terms[r]), weights[r],
                        np.ascontiguousarray(var_bits[r]), step[r], inv_step[r], 5, key, scale,
                        tiled)  # fmt: skip
    np.testing.assert_array_equal(tiled, out)  # bit for bit


@pytest.mark.parametrize("n_terms", [2, 3])
def test_fixed_point_digits_represent_each_column_within_their_bound(n_terms):
    from crossbar._mvm_kernels import fixed_point_terms

    gen = np.random.default_rng(6)
    dg = (gen.normal(size=(128, 37)) * gen.uniform(1e-6, 1e-4, size=37)).astype(np.float32)
    dg[:, 3] = 0.0  # an all-zero column
    codes = np.empty((128, n_terms * 37), dtype=np.int8)
    weights = np.empty(n_terms * 37)
    fixed_point_terms(dg, n_terms, codes, weights)
    back = sum(codes[:, t * 37 : (t + 1) * 37] * weights[t * 37 : (t + 1) * 37]
               for t in range(n_terms))  # fmt: skip
    top = np.abs(dg).max(axis=0)
    bound = top / 127 / (2 * 254.0 ** (n_terms - 1))
    assert np.all(np.abs(back - dg) <= bound * (1 + 1e-9) + 1e-30)
    assert np.abs(codes).max() <= 127
    # not a vacuous bound: the last digit is in use
    assert np.abs(back - dg).max() > 0.1 * bound.max()


def test_fast_reads_match_float32_reads_in_distribution():
    """The same read in both arithmetics: per output, the sample mean over 4000 noisy reads
    agrees, and so does the sample variance (the bfloat16 variance is within 0.6 %)."""
    gen = np.random.default_rng(7)
    w = gen.normal(size=(40, 300)).astype(np.float32)
    x = np.repeat(gen.normal(size=(1, 300)).astype(np.float32), 4000, axis=0)
    stats = {}
    for precision in ("fast", "float32"):
        config = CrossbarConfig(read_precision=precision, adc=ADCConfig(bits=None))
        matrix = TiledMatrix(w, config, rng=8)
        y = matrix.matvec(x)
        stats[precision] = y.mean(axis=0), y.var(axis=0, ddof=1)
    (m_fast, v_fast), (m_ref, v_ref) = stats["fast"], stats["float32"]
    assert not np.array_equal(m_fast, m_ref)  # the two arithmetics did run
    se = np.sqrt((v_fast + v_ref) / 4000)
    assert np.all(np.abs(m_fast - m_ref) < 5 * se)
    # the variance ratio of two samples of 4000: sd of log ratio ~ sqrt(2 / 4000) * sqrt(2)
    log_ratio = np.log(v_fast / v_ref)
    assert np.all(np.abs(log_ratio) < 5 * np.sqrt(4 / 4000))
    assert abs(log_ratio.mean()) < 5 * np.sqrt(4 / 4000 / 40)


@pytest.mark.parametrize("mapping", ["differential", "reference"])
def test_ir_drop_reads_are_the_exact_circuit_and_follow_reprogramming(mapping):
    """With wire resistance every tile is read through its exact transfer matrix: the product
    equals the sum over tiles of sparse nodal solves, and reprogramming refreshes the map."""
    cfg = CrossbarConfig.ideal(ir_drop=True, r_wl_ohm=2.0, r_bl_ohm=3.0, tile_rows=16,
                               tile_cols=8, mapping=mapping, dac=DACConfig(bits=None),
                               adc=ADCConfig(bits=None), read_noise=False)  # fmt: skip
    w = _w((11, 20))
    m = TiledMatrix(w, cfg, rng=0)
    x = _w((3, 20), 4)
    scale = np.abs(x).max(axis=1)
    v = x / scale[:, None] * cfg.dac.v_read_v
    expected = np.zeros((3, 11))
    for ri, r0 in enumerate(m._row_starts):
        for ci, c0 in enumerate(m._col_starts):
            arrays = m.tiles[ri][ci]
            vr = v[:, r0 : r0 + arrays[0].rows]
            cur = [ir_drop_direct(a.conductance(), vr, 2.0, 3.0) for a in arrays]
            n_out = min(m._per_tile, 11 - c0)
            block = (
                cur[0] - cur[1] if mapping == "differential" else cur[0][:, :-1] - cur[0][:, -1:]
            )
            expected[:, c0 : c0 + n_out] += block[:, :n_out]
    expected *= (scale / (cfg.dac.v_read_v * m.g_per_weight))[:, None]
    np.testing.assert_allclose(m.matvec(x), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(m.matvec(x), x @ m.effective_weight(cfg.read_time_s).T,
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    m.program(-w)  # cached maps must follow the new conductances
    fresh = TiledMatrix(-w, cfg, rng=0)
    np.testing.assert_allclose(m.matvec(x), fresh.matvec(x), rtol=1e-12, atol=1e-15)
    assert not np.allclose(m.matvec(x), expected)


# -- pooled programming: one kernel call for all arrays, the same draws as array by array ---------


def _program_sequence(pooled, mapping, monkeypatch, reload_at=None, shape=(50, 70)):
    import crossbar.array as ca

    monkeypatch.setattr(ca, "POOLED_PROGRAMMING", pooled)
    config = CrossbarConfig(mapping=mapping, tile_rows=32, tile_cols=24,
                            device=MultiLevelParams(stuck_fraction=0.05))  # fmt: skip
    rng = np.random.default_rng(0)
    m = TiledMatrix(rng.uniform(-1, 1, shape), config, rng=3)
    outputs = []
    for step in range(4):
        if step == reload_at:  # fresh device objects: the pool is made again
            meta, arrays = m.state()
            m.load_state(meta, {k: v.copy() for k, v in arrays.items()})
        # small moves: most cells keep their level (write-on-change)
        w = np.clip(m.effective_weight(60.0) + rng.normal(0, 0.2, shape), -1, 1)
        results = m.program(w.astype(np.float32) if step % 2 else w)  # float32 is used exactly
        outputs += [
            np.concatenate([r.cells for r in results] or [np.zeros(0, np.int64)]),
            np.concatenate([r.iterations for r in results] or [np.zeros(0, np.int32)]),
            m.matvec(rng.uniform(-1, 1, (5, shape[1]))),
            m.effective_weight(60.0),
        ]
        cells_read = [a.conductance() for a in m.arrays]
        outputs += [np.concatenate([c.ravel() for c in cells_read])]
    meta, arrays = m.state()
    return outputs, arrays, meta


@pytest.mark.parametrize("mapping", ["differential", "reference"])
@pytest.mark.parametrize("reload_at", [None, 2])
def test_pooled_programming_equals_array_by_array_bit_for_bit(mapping, reload_at, monkeypatch):
    out_p, arrays_p, meta_p = _program_sequence(True, mapping, monkeypatch, reload_at)
    out_a, arrays_a, meta_a = _program_sequence(False, mapping, monkeypatch, reload_at)
    assert 0 < out_p[0].size < 50 * 70  # write-on-change wrote some cells, not all
    for x, y in zip(out_p, out_a, strict=True):
        np.testing.assert_array_equal(x, y)
    assert meta_p == meta_a and arrays_p.keys() == arrays_a.keys()
    for k in arrays_p:
        np.testing.assert_array_equal(arrays_p[k], arrays_a[k])


@pytest.mark.parametrize("mapping", ["differential", "reference"])
@pytest.mark.parametrize("shape", [(1, 1), (130, 3), (3, 130)])
def test_pooled_programming_on_odd_shapes(mapping, shape, monkeypatch):
    """One output, one input, a column or a row of tiles: still the array-by-array draws."""
    out_p, arrays_p, meta_p = _program_sequence(True, mapping, monkeypatch, shape=shape)
    out_a, arrays_a, meta_a = _program_sequence(False, mapping, monkeypatch, shape=shape)
    for x, y in zip(out_p, out_a, strict=True):
        np.testing.assert_array_equal(x, y)
    assert meta_p == meta_a and arrays_p.keys() == arrays_a.keys()
    for k in arrays_p:
        np.testing.assert_array_equal(arrays_p[k], arrays_a[k])


@pytest.mark.parametrize("pooled", [True, False])
def test_write_on_change_follows_direct_reprogramming_of_an_array(pooled, monkeypatch):
    """An array programmed behind the matrix's back (program_levels) is taken as it is: its
    conductances, and the targets write-on-change compares with, are those of its cells."""
    import crossbar.array as ca

    monkeypatch.setattr(ca, "POOLED_PROGRAMMING", pooled)
    m = TiledMatrix(_w((40, 40)), CrossbarConfig(tile_rows=32, tile_cols=32), rng=1)
    m.matvec(_w((3, 40), 3))  # the read maps are cached
    a = m.arrays[1]
    a.program_levels(np.zeros((a.rows, a.cols), dtype=np.int64))
    results = m.program(_w((40, 40), 0))  # the first weights again: only array 1 differs
    # array 1 is G- of the first tile: its cells whose level should not be 0 are rewritten
    wanted = m._wanted_levels(_w((40, 40), 0), m.weight_range, 0.0)[0][1][:32, :32].T.ravel()
    assert len(results) == 1
    np.testing.assert_array_equal(results[0].cells, np.flatnonzero(wanted))
    np.testing.assert_array_equal(results[0].levels, wanted[wanted > 0])
    for array in m.arrays:
        np.testing.assert_array_equal(array.conductance(), array.cells.conductance(60.0).reshape(
            array.rows, array.cols))  # fmt: skip
    m2 = TiledMatrix(_w((40, 40)), CrossbarConfig(tile_rows=32, tile_cols=32), rng=1)
    m2.program(_w((40, 40), 0))  # never touched: same state as after the repair above
    for x, y in zip(m.arrays, m2.arrays, strict=True):
        np.testing.assert_array_equal(x.cells.target_levels, y.cells.target_levels)


def test_cell_pool_rejects_mixed_populations():
    from devices import CellPool, MultiLevelRRAM

    with pytest.raises(InvalidParameterError, match="populations"):
        CellPool([])
    with pytest.raises(InvalidParameterError, match="population 1 differs"):
        CellPool([MultiLevelRRAM(4, levels=8, rng=0), MultiLevelRRAM(4, levels=4, rng=0)])


@pytest.mark.parametrize("precision", ["float32", "fast", "auto"])
def test_read_maps_updated_in_place_equal_a_fresh_assembly(precision, monkeypatch):
    """Pooled programming updates the cached ΔG, squares, ADC steps and fast-read operands at the
    written cells only; they must equal what a fresh assembly of the new conductances gives."""
    import crossbar.array as ca

    # "auto" reads small batches with the bfloat16 operands updated in place on such CPUs: take
    # that path on any CPU
    monkeypatch.setattr(ca, "native_bfloat16", lambda: True)
    config = CrossbarConfig(tile_rows=32, tile_cols=24, read_precision=precision)
    rng = np.random.default_rng(5)
    m = TiledMatrix(rng.uniform(-1, 1, (50, 70)), config, rng=2)
    x = rng.uniform(-1, 1, (200, 70))
    m.matvec(x)  # assembles, and prepares the fast operands
    m.matvec(x[:3])
    w = np.clip(m.effective_weight(60.0) + rng.normal(0, 0.2, (50, 70)), -1, 1)
    assert m.program(w)  # some cells written
    kept = m._maps.get(60.0)
    assert kept is not None  # updated in place, not dropped
    kept_fast = m._maps.fast(60.0, 0)  # the small batches' fast operands
    y_kept = m.matvec(x[:3]), m.matvec(x)
    m._maps.clear()  # fresh
    m._calls -= 2
    y_fresh = m.matvec(x[:3]), m.matvec(x)
    for a, b in zip(y_kept, y_fresh, strict=True):
        np.testing.assert_array_equal(a, b)
    fresh = m._maps.get(60.0)
    for part_kept, part_fresh in zip(kept, fresh, strict=True):
        for a, b in zip(part_kept, part_fresh, strict=True):
            np.testing.assert_array_equal(a, b)
    fresh_fast = m._maps.fast(60.0, 0)  # kept through programming (auto) and made afresh
    assert (kept_fast is not None) == (precision == "auto")
    if kept_fast is not None:
        for name in ("sq_bits", "step", "inv_step", "weights"):
            np.testing.assert_array_equal(getattr(kept_fast, name), getattr(fresh_fast, name))
        np.testing.assert_array_equal(kept_fast.blocks.numpy(), fresh_fast.blocks.numpy())


@pytest.mark.parametrize("mapping", ["differential", "reference"])
def test_ideal_devices_are_written_as_the_mapping_says(mapping):
    """Ideal conductances (one kernel for all arrays) against the mapping written out per array
    in numpy, bit for bit, on odd shapes across tiles."""
    config = CrossbarConfig.ideal(mapping=mapping, tile_rows=32, tile_cols=24)
    m = TiledMatrix(_w((50, 70)), config, rng=0)
    w = _w((50, 70), 1)
    m.program(w)
    lo, hi = config.g_window_s
    _, g_ref, span = m._window()
    gpw = span / m.weight_range
    wc = np.clip(w, -m.weight_range, m.weight_range)
    for ri, r0 in enumerate(m._row_starts):
        for ci, c0 in enumerate(m._col_starts):
            arrays = m.tiles[ri][ci]
            n_out = arrays[0].cols - (mapping == "reference")
            block = wc[c0 : c0 + n_out, r0 : r0 + arrays[0].rows].T
            if mapping == "differential":
                expected = (lo + np.maximum(block, 0) * gpw, lo + np.maximum(-block, 0) * gpw)
            else:
                ref = np.full((block.shape[0], 1), g_ref)
                expected = (np.hstack([g_ref + block * gpw, ref]),)
            for array, target in zip(arrays, expected, strict=True):
                np.testing.assert_array_equal(array.conductance(), np.clip(target, lo, hi))


@pytest.mark.parametrize("sigmas", [0.0, 3.0])
def test_adc_step_kernel_matches_numpy(sigmas):
    from crossbar._mvm_kernels import adc_steps

    gen = np.random.default_rng(5)
    dg3 = (gen.normal(0, 40e-6, (3, 16, 7)) * (gen.random((3, 16, 7)) > 0.2)).astype(np.float32)
    dg3[1, :, 2] = 0.0  # a column of zeros: step 1e-30
    step = np.empty((3, 7))
    adc_steps(dg3, sigmas, 0.2, 127.0, step)
    fast = TiledMatrix._fast_steps(step)  # the fast read's float32 steps and reciprocals
    step32, inv = fast["step"], fast["inv_step"]
    ref = reference.adc_steps(dg3, sigmas, 0.2, 127)
    for ours, theirs in zip((step, step32, inv), ref, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert step[1, 2] == 1e-30


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_scale_and_batch_squares_match_numpy(dtype):
    from crossbar._mvm_kernels import input_scale, squares_over_batch

    gen = np.random.default_rng(6)
    x = gen.normal(0, 1, (5, 37)).astype(dtype)
    scale = np.empty(5)
    wide = dtype == np.float64
    bits = np.int64 if wide else np.int32
    assert input_scale(x.view(bits), wide, scale) == 0
    np.testing.assert_array_equal(scale, np.abs(x).max(axis=1).astype(np.float64))
    x[1, 3], x[4, 0] = np.nan, -np.inf
    x[2, 5] = -np.nan  # a NaN with the sign bit set
    assert input_scale(x.view(bits), wide, scale) == 3
    x[...] = 0.0
    x[0, 0] = -0.0
    assert input_scale(x.view(bits), wide, scale) == 0 and (scale == 0).all()
    v = gen.normal(0, 0.1, (3, 9, 16)).astype(dtype)
    out = np.empty((3, 16))
    squares_over_batch(v, out)
    np.testing.assert_array_equal(out, np.square(v).sum(axis=1, dtype=np.float64))


@pytest.mark.parametrize("mapping", ["differential", "reference"])
def test_weight_values_are_what_the_cells_store(mapping):
    """TiledMatrix.weight_values(): the values a programmed weight can take, the public surface
    the torch layers' weight_levels() use."""
    from crossbar import CrossbarConfig, TiledMatrix

    w = np.linspace(-0.05, 0.05, 40).reshape(5, 8)
    m = TiledMatrix(w, CrossbarConfig(mapping=mapping, read_noise=False), rng=0)
    values = m.weight_values()
    assert np.all(np.diff(values) > 0) and values.size >= 7  # 2K-1 (pairs) or K-1 in range
    assert np.abs(values).max() <= m.weight_range * (1 + 1e-9)
    stored = m.effective_weight(0.0)
    # every stored weight is near one of the values (programming noise aside)
    gap = np.abs(stored[..., None] - values).min(axis=-1)
    assert np.median(gap) < 0.25 * np.diff(values).min()
