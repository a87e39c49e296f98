import json

import numpy as np
import pytest

from devices import InvalidParameterError, PulseResponseDevice, PulseResponseParams, presets

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
