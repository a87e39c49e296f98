import math

import numpy as np
import pytest
import scipy.stats as st

from devices import (
    STTMRAM,
    InvalidParameterError,
    STTMRAMParams,
    TruncatedDistribution,
    WearOutParams,
    presets,
    pulse_for_wer,
    write_energy_j,
    write_error_rate,
)

P = presets.HIRTZLIN2019_STTMRAM


def test_wer_matches_closed_forms_in_both_regimes():
    # precessional: I = 2 I_c0, t_p = 5 ns
    expected = 1 - math.exp(-(math.pi**2 * 60 / 4) * math.exp(-2 * 1.0 * 5.0 / 1.0))
    assert write_error_rate(100.0, 5.0) == pytest.approx(expected, rel=1e-12)
    # thermal: I = 0.9 I_c0, tau = 1 ns * exp(60 * 0.1)
    assert write_error_rate(45.0, 100.0) == pytest.approx(math.exp(-100 / math.exp(6.0)), rel=1e-12)


def test_wer_limits_and_monotonicity():
    t = np.geomspace(0.1, 100, 60)
    for current in (30.0, 50.0, 60.0, 100.0, 300.0):
        w = write_error_rate(current, t)
        assert np.all((w >= 0) & (w <= 1))
        assert np.all(np.diff(w) <= 0)  # longer pulses never write worse
    i = np.linspace(55, 400, 60)
    assert np.all(np.diff(write_error_rate(i, 5.0)) <= 0)  # nor do larger currents
    assert write_error_rate(100.0, 0.0) == pytest.approx(1.0)  # no pulse, no switching
    assert write_error_rate(1e4, 50.0) == 0.0
    assert write_error_rate(0.0, 10.0) == pytest.approx(1.0)  # no current: thermal, ~never


def test_energy_is_v_i_t():
    assert write_energy_j(100.0, 10.0) == pytest.approx(0.5 * 100e-6 * 10e-9, rel=1e-9, abs=0)
    np.testing.assert_allclose(write_energy_j([50.0, 100.0], 2.0), [5e-14, 1e-13])


@pytest.mark.parametrize("target", [1e-3, 1e-6, 1e-9])
def test_pulse_for_wer_round_trips(target):
    i, t, e = pulse_for_wer(target, current_ua=120.0)
    assert write_error_rate(i, t) == pytest.approx(target, rel=1e-9)
    assert e == pytest.approx(0.5 * 120e-6 * float(t) * 1e-9, rel=1e-9, abs=0)
    i2, t2, _ = pulse_for_wer(target, duration_ns=4.0)
    assert float(t2) == 4.0 and write_error_rate(i2, 4.0) == pytest.approx(target, rel=1e-9)
    assert np.isnan(pulse_for_wer(target, current_ua=40.0)[1])  # below I_c0: not precessional


def test_lower_wer_costs_more_energy_at_fixed_width():
    e = [float(pulse_for_wer(w, duration_ns=5.0)[2]) for w in (1e-3, 1e-6, 1e-9)]
    assert e[0] < e[1] < e[2]


def test_write_flips_bits_with_the_wer():
    n = 400_000
    mem = STTMRAM(n, rng=1)
    bits = np.random.default_rng(0).integers(0, 2, n)
    wer, energy = mem.write(bits, current_ua=100.0, duration_ns=5.0)
    errors = (mem.read() != bits).sum()
    assert wer == pytest.approx(float(write_error_rate(100.0, 5.0)))
    assert st.binomtest(int(errors), n, wer).pvalue > 1e-3
    assert energy == pytest.approx(n * 0.5 * 100e-6 * 5e-9, rel=1e-9, abs=0)
    assert (mem.write_count == 1).all()
    mem.write(bits, 300.0, 50.0)
    np.testing.assert_array_equal(mem.read(), bits)


def test_worn_out_bits_stick():
    wear = WearOutParams(TruncatedDistribution("uniform", 3.0, 5.0), stuck_lrs_probability=0.5)
    mem = STTMRAM(1000, wear_out=wear, rng=2)
    ones, zeros = np.ones(1000, dtype=np.uint8), np.zeros(1000, dtype=np.uint8)
    for k in range(10):
        mem.write(ones if k % 2 else zeros, 300.0, 50.0)
        np.testing.assert_array_equal(mem.failed, mem.write_count > mem.wear.limit)
    stuck_one = mem.wear.stuck_lrs_on_failure
    np.testing.assert_array_equal(mem.read()[mem.failed], stuck_one[mem.failed].astype(np.uint8))


def test_results_do_not_depend_on_thread_count(assert_thread_independent):
    bits = np.random.default_rng(3).integers(0, 2, 50_001)

    def simulate():
        mem = STTMRAM(50_001, rng=4)
        mem.write(bits, 100.0, 4.0)
        return (mem.read(),)

    assert_thread_independent(simulate)


def test_save_load(tmp_path):
    bits = np.random.default_rng(3).integers(0, 2, 5_000)
    mem = STTMRAM(5_000, rng=4)
    mem.write(bits, 100.0, 4.0)
    mem.save(tmp_path / "m.npz")
    other = STTMRAM.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(other.read(), mem.read())
    mem.write(bits, 100.0, 3.0)
    other.write(bits, 100.0, 3.0)
    np.testing.assert_array_equal(other.read(), mem.read())
    np.testing.assert_array_equal(other.write_count, mem.write_count)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: write_error_rate(-1.0, 5.0), "'current_ua'"),
        (lambda: write_error_rate(100.0, -5.0), "'duration_ns'"),
        (lambda: write_error_rate(100.0, float("nan")), "'duration_ns'"),
        (lambda: write_energy_j(-1.0, 5.0), "'current_ua'"),
        (lambda: pulse_for_wer(0.0, current_ua=100.0), "'target_wer'"),
        (lambda: pulse_for_wer(1.5, current_ua=100.0), "'target_wer'"),
        (lambda: pulse_for_wer(1e-3), "exactly one of"),
        (lambda: pulse_for_wer(1e-3, current_ua=100.0, duration_ns=3.0), "exactly one of"),
        (lambda: STTMRAM(0), "'n_bits'"),
        (lambda: STTMRAM(10, params="MAJUMDAR2021"), "STTMRAMParams"),
        (lambda: STTMRAM(10, wear_out="x"), "'wear_out'"),
        (lambda: STTMRAM(3).write([0, 1, 2]), "0/1"),
        (lambda: STTMRAM(3).write([0, 1]), "shape \\(3,\\)"),
        (lambda: STTMRAM(3).write([0, 1, 1], current_ua=-1.0), "'current_ua'"),
        (lambda: STTMRAM(3).write([0, 1, 1], duration_ns=float("inf")), "'duration_ns'"),
        (lambda: STTMRAMParams(thermal_stability=0.0), "'thermal_stability'"),
        (lambda: STTMRAMParams(critical_current_ua=-5.0), "'critical_current_ua'"),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()
