"""Crossbar tiles of pulse-response devices: a measured device drives the engine."""

import json
import os

import numpy as np
import pytest
import torch

from crossbar import CrossbarConfig, TiledMatrix
from crossbar.cli import main
from crossbar.config import ADCConfig, DACConfig
from crossbar.nn import CrossbarLinear
from devices import InvalidParameterError, PulseResponseParams, presets
from devices.pulse_response import max_mean_step_s, program_window_s

P = PulseResponseParams(g_inf_pot_s=150e-6, n0_pot_pulses=60.0, g_inf_dep_s=20e-6,
                        n0_dep_pulses=40.0, g_min_s=10e-6, g_max_s=200e-6)  # fmt: skip
NOISY = PulseResponseParams(150e-6, 60.0, 20e-6, 40.0, noise_intercept_pot_s=0.2e-6,
                            noise_slope_pot=0.005, noise_intercept_dep_s=0.2e-6,
                            noise_slope_dep=0.005, g_min_s=10e-6, g_max_s=200e-6)  # fmt: skip
BASE = "../shared/data/devices/crosssim-pulse-trains/"


def _config(device=P, **changes):
    base = {"device": device, "levels": None, "tile_rows": 16, "tile_cols": 8, "wear_out": None,
            "dac": DACConfig(bits=None), "adc": ADCConfig(bits=None)}  # fmt: skip
    base.update(changes)
    return CrossbarConfig(**base)


@pytest.mark.parametrize("mapping", ["differential", "reference"])
def test_analog_weights_land_within_the_programming_tolerance(rng, mapping):
    w = rng.uniform(-1, 1, (13, 37))
    m = TiledMatrix(w, _config(mapping=mapping), rng=0)
    tol = 0.5 * max_mean_step_s(P)
    # each weight is one or two devices, each within tol of its target
    bound = 2 * tol / m.g_per_weight  # two devices (pair, or device and reference)
    assert np.abs(m.effective_weight() - w).max() <= bound
    assert not m.is_exact_product
    x = rng.normal(size=(5, 37))
    np.testing.assert_allclose(m.matvec(x), x @ m.effective_weight().T, rtol=1e-12, atol=1e-12)
    lo, hi = program_window_s(P)
    for a in m.arrays:
        g = a.conductance()
        assert g.min() >= lo - tol and g.max() <= hi + tol
        assert a.cells.counters["verify_read"].min() >= 1  # every device was verified once


def test_levels_quantize_then_program_by_pulses(rng):
    w = rng.uniform(-1, 1, (9, 20))
    m = TiledMatrix(w, _config(levels=5), rng=0)
    lo, hi = program_window_s(P)
    levels = np.linspace(lo, hi, 5)
    tol = 0.5 * max_mean_step_s(P)
    for a in m.arrays:
        g = a.conductance()
        nearest = levels[np.abs(g[..., None] - levels).argmin(-1)]
        assert np.abs(g - nearest).max() <= tol
        np.testing.assert_array_equal(a.level_conductances, levels)
    layer = CrossbarLinear(20, 9, config=_config(levels=5), weight=torch.tensor(w), rng=0)
    vals = layer.weight_levels().numpy()
    assert vals.size == 9 and np.allclose(vals, -vals[::-1])


def test_write_on_change_programs_only_changed_devices(rng):
    w = rng.uniform(-1, 1, (6, 10))
    m = TiledMatrix(w, _config(device=NOISY), rng=0)
    counts = [a.cells.counters.to_arrays() for a in m.arrays]
    assert m.program(w) == []  # nothing changed: no pulse, not even a verify read
    for a, before in zip(m.arrays, counts, strict=True):
        for k, v in a.cells.counters.to_arrays().items():
            np.testing.assert_array_equal(v, before[k])
    w2 = w.copy()
    w2[2, 3] = -w[2, 3]
    results = m.program(w2)
    assert sum(r.cells.size for r in results) == 2  # the weight's two devices
    assert sum(int(r.pulses.sum()) for r in results) > 0


def test_state_dict_round_trip_and_training_step(rng):
    cfg = _config(device=NOISY, levels=None, dac=DACConfig(bits=8), adc=ADCConfig(bits=8))
    layer = CrossbarLinear(24, 7, config=cfg, rng=1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.5)
    x = torch.randn(4, 24)
    layer(x).square().sum().backward()
    opt.step()
    y = layer(x)  # the devices follow the update
    assert layer.device_writes().sum() > 0
    clone = CrossbarLinear(24, 7, config=cfg, rng=99)
    clone.load_state_dict(layer.state_dict())
    torch.testing.assert_close(clone(x), layer(x), rtol=0, atol=0)
    assert not torch.equal(y, torch.zeros_like(y))
    np.testing.assert_array_equal(clone.device_writes(), layer.device_writes())


def test_program_window_of_accelerating_directions():
    tol = 0.5 * max_mean_step_s(P)
    acc = PulseResponseParams(g_inf_pot_s=40e-6, n0_pot_pulses=-60.0, g_inf_dep_s=180e-6,
                              n0_dep_pulses=-40.0, g_min_s=10e-6, g_max_s=200e-6)  # fmt: skip
    tol = 0.5 * max_mean_step_s(acc)
    assert program_window_s(acc) == pytest.approx((40e-6 + tol, 180e-6 - tol))
    m = TiledMatrix(np.array([[0.3, -1.0]]), _config(device=acc), rng=0)
    for a in m.arrays:
        assert np.all(a.conductance() >= 40e-6)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"allocation": "statistics"}, "'allocation'.*'linear'"),
        (
            {
                "device": PulseResponseParams(
                    20e-6, 60.0, 150e-6, 40.0, g_min_s=10e-6, g_max_s=200e-6
                )
            },
            "cannot be programmed",
        ),
        ({"device": "fit.json"}, "'device'.*PulseResponseParams"),
    ],
)
def test_config_errors(changes, match):
    with pytest.raises(InvalidParameterError, match=match):
        _config(**changes)


@pytest.mark.skipif(not os.path.exists(BASE + "set.csv"), reason="shared data not available")
def test_measured_device_drives_a_layer(tmp_path, capsys):
    out = tmp_path / "pr.json"
    assert main(["fit", "pulse-response", BASE + "set.csv", BASE + "reset.csv", "--layout", "wide",
                 "--quantity", "current_a", "--read-voltage", "0.1", "--out", str(out)]) == 0  # fmt: skip
    capsys.readouterr()
    params = presets.from_json(out)
    cfg = CrossbarConfig(device=params, levels=None, wear_out=None)
    lin = torch.nn.Linear(64, 10)
    layer = CrossbarLinear.from_linear(lin, cfg, rng=0)
    x = torch.randn(32, 64)
    err = (layer(x) - lin(x)).abs().mean() / lin(x).abs().mean()
    assert err < 0.1, err  # the measured device's noise and 8-bit converters, not a broken map
    writes = layer.device_writes()
    assert writes.max() <= 4 * (abs(params.n0_pot_pulses) + abs(params.n0_dep_pulses))
    json.dumps({"mean_writes": float(writes.mean())})
