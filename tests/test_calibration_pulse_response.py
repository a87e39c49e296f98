import json
import os

import numpy as np
import pytest

from calibration.io import load_pulse_trains
from calibration.pulse_response import fit_pulse_response
from crossbar.cli import main
from devices import InvalidParameterError

BASE = "../shared/data/devices/crosssim-pulse-trains/"


def _ramps_csv(path, g0, g_inf, n0, s0, s1, n_ramps=30, pulses=150, seed=0):
    """Ramps that follow dG = (G_inf - G)(1 - exp(-1/n0)) + N(0, (s0 + s1 G)^2), wide layout."""
    gen = np.random.default_rng(seed)
    cols = []
    for _ in range(n_ramps):
        g = [g0]
        for _ in range(pulses - 1):
            step = (g_inf - g[-1]) * (1 - np.exp(-1 / n0))
            g.append(g[-1] + step + gen.normal(0, s0 + s1 * g[-1]))
        cols.append(g)
    rows = ["r" + ",r".join(str(k) for k in range(n_ramps))]
    rows += [",".join(f"{cols[k][i]:.10g}" for k in range(n_ramps)) for i in range(pulses)]
    path.write_text("\n".join(rows) + "\n")


def test_recovers_known_saturation_and_noise(tmp_path):
    path = tmp_path / "ramps.csv"
    _ramps_csv(path, g0=50e-6, g_inf=150e-6, n0=60.0, s0=0.2e-6, s1=0.01)
    fit = fit_pulse_response(load_pulse_trains(path, layout="wide", quantity="conductance_s"))
    d = fit.directions["potentiation"]
    assert d.n0_pulses == pytest.approx(60.0, rel=0.1)
    assert d.g_inf_s == pytest.approx(150e-6, rel=0.05)
    assert d.g0_s == pytest.approx(50e-6, rel=0.05)
    sd_mid = d.noise_sd_s(100e-6)
    assert sd_mid == pytest.approx(0.2e-6 + 0.01 * 100e-6, rel=0.15)
    assert d.r2 > 0.9  # the noise accumulates along each ramp (a random walk)


@pytest.mark.skipif(not os.path.exists(BASE + "set.csv"), reason="shared data not available")
def test_real_crosssim_ramps_fit_with_high_r2(tmp_path, capsys):
    out = tmp_path / "pr.json"
    code = main(["fit", "pulse-response", BASE + "set.csv", BASE + "reset.csv", "--layout", "wide",
                 "--quantity", "current_a", "--read-voltage", "0.1", "--out", str(out)])  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["model"] == "pulse-response"
    pot, dep = doc["directions"]["potentiation"], doc["directions"]["depression"]
    assert pot["n_ramps"] == 39 and dep["n_ramps"] == 40
    assert pot["r2"] > 0.99 and dep["r2"] > 0.99
    assert dep["n0_pulses"] > 0 > pot["n0_pulses"]  # depression saturates, potentiation accelerates
    assert "R^2" in capsys.readouterr().out


def test_bad_input():
    with pytest.raises(InvalidParameterError, match="Measurements"):
        fit_pulse_response([1, 2])
    with pytest.raises(InvalidParameterError, match="Measurements"):
        fit_pulse_response()


def test_flat_and_short_ramps_are_named_not_pooled(tmp_path, capsys):
    path = tmp_path / "ramps.csv"
    _ramps_csv(path, 1e-3, 2e-3, 40.0, 1e-6, 0.0, n_ramps=6, pulses=120, seed=2)
    lines = path.read_text().splitlines()
    gen = np.random.default_rng(0)
    flat = 1.5e-3 + gen.normal(0, 1e-6, len(lines) - 1)
    lines[0] += ",flat,short"
    for i in range(1, len(lines)):
        lines[i] += f",{flat[i - 1]:.10g}," + ("1.2e-3" if i <= 2 else "")
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "p.json"
    assert main(["fit", "pulse-response", str(path), "--layout", "wide", "--quantity",
                 "conductance_s", "--out", str(out)]) == 0  # fmt: skip
    text = capsys.readouterr().out
    doc = json.loads(out.read_text())
    reasons = {e["device"]: e["reason"] for e in doc["excluded"]}
    assert set(reasons) == {"flat", "short"}
    assert "flat" in reasons["flat"] and "only 2 read(s)" in reasons["short"]
    assert (
        "depression" not in doc["directions"] and doc["directions"]["potentiation"]["n_ramps"] == 6
    )
    assert "excluded 2 ramp(s)" in text


def test_a_simulation_from_the_fit_matches_ramps_drawn_from_the_model(tmp_path):
    """Ramps simulated by PulseResponseDevice are measured, fitted, and compared with a fresh
    simulation from the fit: the quantiles agree and the KS distance is small (a fit of real
    data is compared the same way in docs/calibration.md)."""
    from calibration.pulse_response import compare_with_simulation
    from devices import PulseResponseDevice
    from devices.params import PulseResponseParams

    truth = PulseResponseParams(g_inf_pot_s=3e-3, n0_pot_pulses=120.0, g_inf_dep_s=0.5e-3,
                                n0_dep_pulses=150.0, noise_intercept_pot_s=2e-6,
                                noise_slope_pot=0.0, noise_intercept_dep_s=2e-6,
                                noise_slope_dep=0.0, g_min_s=1e-3, g_max_s=2.5e-3)  # fmt: skip
    paths = []
    for name, start, sign in (("set", 1e-3, 1), ("reset", 2.5e-3, -1)):
        cells = PulseResponseDevice(60, truth, g_init_s=start, rng=len(name))
        g = [cells.conductance().copy()]
        for _ in range(120):
            cells.apply_pulses(sign)
            g.append(cells.conductance().copy())
        g = np.array(g)
        path = tmp_path / f"{name}.csv"
        rows = [",".join(f"r{k}" for k in range(g.shape[1]))]
        rows += [",".join(f"{v:.12g}" for v in row) for row in g]
        path.write_text("\n".join(rows) + "\n")
        paths.append(path)
    data = [load_pulse_trains(p, layout="wide", quantity="conductance_s") for p in paths]
    fit = fit_pulse_response(*data, bootstrap=100, rng=2)
    for name, direction in fit.directions.items():  # intervals over ramps hold the truth
        lo, hi = direction.intervals["n0_pulses"]
        assert lo < direction.n0_pulses < hi
        g_inf = truth.g_inf_pot_s if name == "potentiation" else truth.g_inf_dep_s
        assert direction.intervals["g_inf_s"][0] < g_inf * 1.05
        assert direction.intervals["g_inf_s"][1] > g_inf * 0.95
    assert fit.to_dict()["directions"]["depression"]["intervals"]["g0_s"]
    rows = compare_with_simulation(fit, devices=600, rng=1)
    for direction in ("potentiation", "depression"):
        assert [r["pulses"] for r in rows[direction]] == [1, 5, 20, 50, 100]
        for r in rows[direction]:
            assert r["ks"] < 0.3, (direction, r)
            assert r["simulated"][1] == pytest.approx(r["measured"][1], abs=0.02)
