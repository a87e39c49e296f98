import json

import numpy as np
import pytest

from devices import (
    InvalidParameterError,
    PulseResponseDevice,
    PulseResponseParams,
    TruncatedDistribution,
    WearOutParams,
    presets,
)

P = PulseResponseParams(g_inf_pot_s=150e-6, n0_pot_pulses=60.0, g_inf_dep_s=20e-6,
                        n0_dep_pulses=40.0, g_min_s=10e-6, g_max_s=200e-6)  # fmt: skip


def test_follows_the_saturation_law_without_noise():
    d = PulseResponseDevice(4, P, g_init_s=50e-6, rng=0)
    d.apply_pulses(np.array([0, 1, 10, 100]))
    n = np.array([0, 1, 10, 100])
    expected = 150e-6 - (150e-6 - 50e-6) * np.exp(-n / 60.0)
    np.testing.assert_allclose(d.conductance(), expected, rtol=1e-12)
    d.apply_pulses(-5)
    g = expected
    for _ in range(5):
        g = g + (20e-6 - g) * (1 - np.exp(-1 / 40.0))
    np.testing.assert_allclose(d.conductance(), g, rtol=1e-12)
    np.testing.assert_array_equal(d.counters["potentiation"], n)
    np.testing.assert_array_equal(d.counters["depression"], 5)


def test_noise_of_one_pulse_has_the_fitted_sd():
    p = PulseResponseParams(150e-6, 60.0, 20e-6, 40.0, noise_intercept_pot_s=1e-6,
                            noise_slope_pot=0.02, g_min_s=0.0, g_max_s=1.0)  # fmt: skip
    d = PulseResponseDevice(100_000, p, g_init_s=50e-6, rng=1)
    d.apply_pulses(1)
    mean = 50e-6 + 100e-6 * (1 - np.exp(-1 / 60.0))
    assert d.conductance().mean() == pytest.approx(mean, rel=1e-3)
    assert d.conductance().std() == pytest.approx(1e-6 + 0.02 * 50e-6, rel=0.02)


def test_loads_the_fit_file_and_is_thread_independent(tmp_path, assert_thread_independent):
    doc = {"version": 1, "model": "pulse-response", "source": "test", "directions": {
        "potentiation": {"g0_s": 1.6e-3, "g_inf_s": 1.2e-3, "n0_pulses": -160.0,
                         "noise_intercept_s": 7e-7, "noise_slope": 0.0},
        "depression": {"g0_s": 2.5e-3, "g_inf_s": 5e-5, "n0_pulses": 350.0,
                       "noise_intercept_s": 0.0, "noise_slope": 3e-4}}}  # fmt: skip
    path = tmp_path / "pr.json"
    path.write_text(json.dumps(doc))
    params = presets.from_json(path)
    assert isinstance(params, PulseResponseParams)
    assert (params.g_min_s, params.g_max_s) == (1.6e-3, 2.5e-3)

    def run():
        d = PulseResponseDevice(5001, params, rng=3)
        d.apply_pulses(np.arange(5001) % 7 - 3)
        return (d.conductance().copy(),)

    assert_thread_independent(run)
    del doc["directions"]["depression"]
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidParameterError, match="both directions"):
        presets.from_json(path)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: PulseResponseParams(1e-4, 0.0, 1e-5, 10.0), "'n0_pot_pulses'"),
        (lambda: PulseResponseParams(1e-4, 5.0, 1e-5, 10.0, g_min_s=1.0, g_max_s=0.5), "g_min_s"),
        (lambda: PulseResponseDevice(0, P), "'n_devices'"),
        (lambda: PulseResponseDevice(2, "P"), "'params'"),
        (lambda: PulseResponseDevice(2, P, g_init_s=1.0), "'g_init_s'"),
        (lambda: PulseResponseDevice(2, P).apply_pulses(np.array([1.5, 2])), "'n'"),
        (lambda: PulseResponseDevice(2, P).apply_pulses(np.array([1, 2, 3])), "'n'"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


# -- closed-loop pulse programming -------------------------------------------------------------


def _program_reference(g, target, tol, budget, p):
    """The programming loop of one device, written out (no noise)."""
    f_pot, f_dep = 1 - np.exp(-1 / p.n0_pot_pulses), 1 - np.exp(-1 / p.n0_dep_pulses)
    n = 0
    while abs(g - target) > tol and n < budget:
        if g < target:
            g = g + (p.g_inf_pot_s - g) * f_pot
        else:
            g = g + (p.g_inf_dep_s - g) * f_dep
        g = min(max(g, p.g_min_s), p.g_max_s)
        n += 1
    return g, n, abs(g - target) <= tol


def test_program_matches_the_written_out_loop_without_noise(rng):
    d = PulseResponseDevice(300, P, g_init_s=50e-6, rng=0)
    lo, hi = d.program_window_s()
    tol = 0.5 * d.max_mean_step_s()
    assert (lo, hi) == pytest.approx((20e-6 + tol, 150e-6 - tol))
    targets = rng.uniform(lo, hi, 300)
    targets[:3] = (lo, hi, 50e-6)  # the ends of the window, and no move at all
    tol = 0.5 * d.max_mean_step_s()
    result = d.program(targets)
    for i in range(300):
        g, n, ok = _program_reference(50e-6, targets[i], tol, d.default_max_pulses(), P)
        assert d.conductance()[i] == pytest.approx(g, rel=1e-12, abs=0)
        assert (result.pulses[i], result.converged[i]) == (n, ok)
    assert result.converged.all()  # the default tolerance always converges without noise
    assert result.pulses[2] == 0
    np.testing.assert_array_equal(d.pulse_count, result.pulses)
    np.testing.assert_array_equal(d.counters["verify_read"], result.pulses + 1)
    assert np.all(np.abs(d.conductance() - targets) <= tol)
    # down again: only the selected cells move, with depression pulses
    before = d.conductance().copy()
    result = d.program(np.full(2, 20e-6), cells=np.array([5, 7]), tolerance_s=1e-7)
    assert np.all(np.abs(d.conductance()[[5, 7]] - 20e-6) <= 1e-7) and result.converged.all()
    np.testing.assert_array_equal(np.delete(d.conductance(), [5, 7]), np.delete(before, [5, 7]))
    assert d.counters["depression"][[5, 7]].min() > 0


def test_program_with_noise_reaches_its_tolerance_or_says_so(assert_thread_independent):
    p = PulseResponseParams(150e-6, 60.0, 20e-6, 40.0, noise_intercept_pot_s=0.3e-6,
                            noise_slope_pot=0.01, noise_intercept_dep_s=0.3e-6,
                            noise_slope_dep=0.01, g_min_s=10e-6, g_max_s=200e-6)  # fmt: skip
    targets = np.linspace(25e-6, 140e-6, 20_000)

    def run():
        d = PulseResponseDevice(20_000, p, g_init_s=10e-6, rng=4)
        r = d.program(targets, max_pulses=200)
        return d.conductance().copy(), r.pulses, r.converged

    assert_thread_independent(run)
    g, pulses, ok = run()
    tol = 0.5 * PulseResponseDevice(1, p).max_mean_step_s()
    assert np.all(np.abs(g[ok] - targets[ok]) <= tol)
    assert 0.99 < ok.mean() < 1.0  # noise makes a few cells bounce until the budget runs out
    assert np.all(pulses[~ok] == 200)


def test_worn_out_devices_stick_and_fail_programming():
    wear = WearOutParams(TruncatedDistribution("uniform", 10.0, 0.5), 1.0)
    d = PulseResponseDevice(3, P, g_init_s=20e-6, wear_out=wear, rng=0)
    d.apply_pulses(np.array([5, 10, 11]))
    assert d.failed.tolist() == [False, False, True]
    assert d.conductance()[2] == P.g_max_s  # stuck at its LRS
    r = d.program(np.full(3, 100e-6))
    assert d.failed.all() and not r.converged[1:].any()
    np.testing.assert_array_equal(d.pulse_count, [11, 11, 12])


def test_state_round_trip_continues_bit_identically(tmp_path):
    p = PulseResponseParams(150e-6, 60.0, 20e-6, 40.0, noise_intercept_pot_s=1e-6,
                            g_min_s=10e-6, g_max_s=200e-6)  # fmt: skip
    d = PulseResponseDevice(50, p, wear_out=WearOutParams(), rng=2)
    d.program(np.full(50, 120e-6))
    d.save(tmp_path / "s.npz")
    e = PulseResponseDevice.load(tmp_path / "s.npz")
    for dev in (d, e):
        dev.apply_pulses(np.arange(50) - 25)
        dev.program(np.full(50, 60e-6))
    np.testing.assert_array_equal(d.conductance(), e.conductance())
    np.testing.assert_array_equal(d.pulse_count, e.pulse_count)
    np.savez(tmp_path / "x.npz", g=np.zeros(3))
    with pytest.raises(InvalidParameterError, match="not a 'crossbar-sim/pulse-response-state'"):
        PulseResponseDevice.load(tmp_path / "x.npz")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: d.program(np.zeros(3)), "'targets_s'.*window"),
        (lambda d: d.program(np.full(2, 1e-4)), "'targets_s'.*shape"),
        (lambda d: d.program(np.array(["a", "b", "c"])), "'targets_s'"),
        (lambda d: d.program(np.full(2, 1e-4), cells=np.array([1, 1])), "'cells'"),
        (lambda d: d.program(np.full(1, 1e-4), cells=np.array([3])), "'cells'"),
        (lambda d: d.program(np.full(3, 1e-4), tolerance_s=0.0), "'tolerance_s'"),
        (lambda d: d.program(np.full(3, 1e-4), max_pulses=-1), "'max_pulses'"),
        (lambda d: PulseResponseDevice(2, P, wear_out="x"), "'wear_out'"),
    ],
)
def test_program_rejects_bad_input(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call(PulseResponseDevice(3, P, rng=0))
