import json

import numpy as np
import pytest

from calibration.fit import fit_device, fit_weak_reset
from calibration.io import load_pulse_trains
from calibration.synthetic import write_weak_reset_csv
from crossbar.cli import main
from devices import InvalidParameterError, WeakResetRRAM, mean_log_resistance, presets


def test_single_device_parameters_are_recovered_exactly():
    t = np.arange(0, 1200)
    m1, ts, c1, m2, r0 = 8e-4, 412.7, 0.02, 3e-5, 6800.0
    r = r0 * np.exp(mean_log_resistance(t, m1, ts, c1, m2))
    fit = fit_device("d", t, r)
    assert fit.m1_per_pulse == pytest.approx(m1, rel=1e-6)
    assert fit.m2_per_pulse == pytest.approx(m2, rel=1e-4)
    assert fit.c1 == pytest.approx(c1, abs=1e-7)
    assert fit.t_star_pulses == pytest.approx(ts, abs=0.5)
    assert fit.r0_ohm == r0 and fit.r2 == pytest.approx(1.0)


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "wr.csv"
    pop = write_weak_reset_csv(path, n_devices=150, pulses=1500, noise="none", rng=3)
    return pop, fit_weak_reset(load_pulse_trains(path)), path


def test_round_trip_recovers_population_medians(round_trip):
    pop, result, _ = round_trip
    truth = pop.d2d_parameters
    # knees beyond the 1500 simulated pulses cannot be seen: compare on the devices whose knee is
    for name in ("m1_per_pulse", "m2_per_pulse"):
        assert getattr(result.params, name).median() == pytest.approx(
            np.median(truth[name]), rel=0.10
        )
    seen = truth["t_star_pulses"] < 1450
    fitted_t = np.array([f.t_star_pulses for f in result.devices])
    assert np.median(fitted_t[seen]) == pytest.approx(
        np.median(truth["t_star_pulses"][seen]), rel=0.10
    )
    assert result.params.r0_ohm.median() == pytest.approx(np.median(truth["r0_ohm"]), rel=0.02)
    assert result.params.c1.median() == pytest.approx(np.median(truth["c1"]), abs=0.01)
    assert min(result.details["r2"]) > 0.999


def test_parameter_file_runs_the_simulator(round_trip, tmp_path):
    _, result, _ = round_trip
    out = tmp_path / "params.json"
    presets.to_json(result.params, out)
    doc = json.loads(out.read_text())
    assert doc["model"] == "weak-reset" and doc["parameters"]["m1_per_pulse"]["family"] in (
        "expon", "lognorm", "norm")  # fmt: skip
    params = presets.from_json(out)
    pop = WeakResetRRAM(50, params=params, rng=0)
    pop.apply_pulses(100)
    assert np.all(np.isfinite(pop.resistance()))


def test_noise_amplitudes_are_estimated_from_the_residuals(tmp_path):
    path = tmp_path / "noisy.csv"
    write_weak_reset_csv(path, n_devices=60, pulses=1500, noise="paper", rng=4)
    result = fit_weak_reset(load_pulse_trains(path))
    alpha = result.details["noise"]["pink_alpha"]
    assert 0.0125 < alpha < 0.05  # true 0.025; a method-of-moments estimate
    assert result.details["noise"]["rtn_amplitude_mean"] > 0.02  # true mean 0.25; absorbed in part


def test_cli_fit_writes_parameters_and_plot(round_trip, tmp_path, capsys):
    _, _, data = round_trip
    out, png = tmp_path / "p.json", tmp_path / "fit.png"
    assert main(["fit", "weak-reset", str(data), "--out", str(out), "--plot", str(png)]) == 0
    text = capsys.readouterr().out
    assert "R^2 median" in text and out.exists() and png.read_bytes()[:4] == b"\x89PNG"


def test_cli_fit_reports_malformed_files_with_position(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("device_id,pulse_index,resistance_ohm\na,0,7000\na,1,oops\n")
    assert main(["fit", "weak-reset", str(bad), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}:3: column 'resistance_ohm'")


def test_fit_rejects_unusable_data(tmp_path):
    with pytest.raises(InvalidParameterError, match="pulse_index 0"):
        fit_device("d", np.arange(1, 10), np.ones(9))
    with pytest.raises(InvalidParameterError, match="at least 5 reads"):
        fit_device("d", np.arange(0, 4), np.ones(4))
    with pytest.raises(InvalidParameterError, match="'data'"):
        fit_weak_reset([1, 2, 3])
    path = tmp_path / "two.csv"
    rows = [f"{d},{k},{7000 * (1 + 1e-3 * k)}" for d in ("a", "b") for k in range(20)]
    path.write_text("device_id,pulse_index,resistance_ohm\n" + "\n".join(rows) + "\n")
    with pytest.raises(InvalidParameterError, match="at least 3 pulse trains"):
        fit_weak_reset(load_pulse_trains(path))


def test_cli_fit_never_destroys_a_file(round_trip, tmp_path, capsys):
    """The measured CSV as --out, an existing --out or --plot, a bad plot suffix: refused
    before anything is written; --force replaces an output but never an input."""
    _, _, data = round_trip
    csv = tmp_path / "m.csv"
    csv.write_bytes(data.read_bytes())
    original = csv.read_bytes()
    out, png = tmp_path / "p.json", tmp_path / "fit.png"
    cases = [
        (["--out", str(csv)], "is an input"),
        (["--out", str(csv), "--force"], "is an input"),
        (["--out", str(out), "--plot", str(tmp_path / "p.xyz")], ".png"),
        (["--out", str(png), "--plot", str(png)], "same file"),
        (["--out", str(tmp_path / "no" / "p.json")], "does not exist"),
        (["--out", str(tmp_path)], "is a folder"),
    ]
    for extra, message in cases:
        assert main(["fit", "weak-reset", str(csv), *extra]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and message in err[0], (extra, err)
        assert csv.read_bytes() == original and not out.exists()
    out.write_text("mine")
    assert main(["fit", "weak-reset", str(csv), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and out.read_text() == "mine"
    assert main(["fit", "weak-reset", str(csv), "--out", str(out), "--plot", str(png),
                 "--force"]) == 0  # fmt: skip
    assert json.loads(out.read_text())["model"] == "weak-reset"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.png", "m.csv", "p.json"]  # no tmp
