import json
import subprocess
import sys

import numpy as np
import pytest

from crossbar import __version__
from crossbar.cli import main
from devices import presets

ISSUE_PULSES = "0,10,100,500,1000,2000"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_prints_quantile_table(capsys):
    code, out, err = run(
        capsys, "device", "simulate", "--model", "weak-reset", "--devices", "2000",
        "--pulses", ISSUE_PULSES, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    lines = out.splitlines()
    assert "5%" in lines[1] and "95%" in lines[1] and "ln(R/R0)" in lines[1]
    rows = [line for line in lines if line.strip().split(" ")[0].isdigit()]
    assert [int(r.split()[0]) for r in rows] == [0, 10, 100, 500, 1000, 2000]
    first = rows[0].split("|")
    assert [float(x) for x in first[2].split()] == [0.0] * 5  # R = R0 before any pulse
    assert "extrapolates" not in err  # 2000 is the last fitted pulse


def test_simulate_json_is_consistent_with_library(capsys):
    code, out, _ = run(
        capsys, "device", "simulate", "--model", "weak-reset", "--devices", "500",
        "--pulses", "10,0,10,30", "--seed", "4", "--noise", "none", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["noise"] == "none" and doc["seed"] == 4 and doc["n_devices"] == 500
    assert [r["pulses"] for r in doc["results"]] == [0, 10, 30]
    assert doc["quantiles_percent"] == [5, 25, 50, 75, 95]
    from devices import WeakResetRRAM

    pop = WeakResetRRAM(500, noise="none", rng=4)
    pop.apply_pulses(30)
    r = pop.resistance()
    np.testing.assert_allclose(
        doc["results"][2]["resistance_ohm"], np.percentile(r, [5, 25, 50, 75, 95])
    )


def test_simulate_writes_plot_and_accepts_param_file(capsys, tmp_path):
    params = tmp_path / "p.json"
    presets.to_json(presets.MAJUMDAR2021, params)
    png = tmp_path / "bands.png"
    code, _, err = run(
        capsys, "device", "simulate", "--model", "weak-reset", "--devices", "300",
        "--pulses", "0,50,2100", "--params", str(params), "--plot", str(png), "--no-d2d",
    )  # fmt: skip
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "extrapolates" in err


@pytest.mark.parametrize(
    "argv,match",
    [
        (
            ["device", "simulate", "--model", "weak-reset", "--pulses", "0,ten"],
            "item 2 of --pulses",
        ),
        (["device", "simulate", "--model", "weak-reset", "--pulses", "0,-5"], "item 2 of --pulses"),
        (["device", "simulate", "--model", "weak-rest"], "invalid choice: 'weak-rest'"),
        (
            ["device", "simulate", "--model", "weak-reset", "--noise", "papr"],
            "Did you mean 'paper'",
        ),
        (["device", "simulate", "--model", "weak-reset", "--devices", "0"], "positive integer"),
        (["device", "simulate", "--model", "weak-reset", "--seed", "-1"], "from 0 to 2**63 - 1"),
        (["device", "simulate", "--model", "weak-reset", "--params", "nope.json"], "no such file"),
        (["device", "simulate", "--model", "weak-reset", "--params", "MAJ2021"], "'name'"),
        (["device", "simulate"], "required: --model"),
        (["device", "simulate", "--model", "weak-reset", "--bogus"], "unrecognized arguments"),
        (["devcie"], "invalid choice"),
        ([], "required"),
    ],
)
def test_bad_arguments_give_one_error_line_and_status_2(capsys, argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert match in lines[0]


def test_bad_param_file_is_reported_with_position(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  oops\n}")
    code, _, err = run(capsys, "device", "simulate", "--model", "weak-reset", "--params", str(bad))
    assert code == 2 and err.startswith("error:") and "line 2, column 3" in err


def test_unwritable_plot_path_is_an_error_not_a_traceback(capsys, tmp_path):
    code, _, err = run(
        capsys, "device", "simulate", "--model", "weak-reset", "--devices", "10", "--pulses", "1",
        "--plot", str(tmp_path / "no" / "such" / "dir" / "x.png"),
    )  # fmt: skip
    assert code == 2 and err.strip().splitlines()[-1].startswith("error:")


def test_version_and_module_entry_point():
    res = subprocess.run(
        [sys.executable, "-m", "crossbar", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0 and res.stdout.strip() == f"crossbar-sim {__version__}"
    res = subprocess.run(
        [sys.executable, "-m", "crossbar", "device", "simulate", "--help"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert res.returncode == 0 and "--no-d2d" in res.stdout and "--plot" in res.stdout


def test_multilevel_simulation_json(capsys, tmp_path):
    png = tmp_path / "ml.png"
    code, out, err = run(
        capsys, "device", "simulate", "--model", "multilevel", "--devices", "4000", "--levels",
        "4", "--allocation", "statistics", "--json", "--plot", str(png),
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["levels"] == 4 and doc["cells"] == 4000 and doc["allocation"] == "statistics"
    assert set(doc["ber"]) == {"verify", "1 s", "60 s", "1 day"}
    assert len(doc["per_level"]) == 4 and 1.0 < doc["mean_iterations"] < 10
    sig = [r["sigma_us@1 day"] for r in doc["per_level"]]
    assert sig[0] > sig[-1]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_multilevel_simulation_table(capsys):
    code, out, _ = run(capsys, "device", "simulate", "--model", "multilevel", "--devices", "800")
    assert code == 0
    assert "iterations per cell" in out and "BER" in out and "sigma@60 s" in out


def test_mram_simulation(capsys, tmp_path):
    png = tmp_path / "m.png"
    code, out, err = run(
        capsys, "device", "simulate", "--model", "mram", "--devices", "20000", "--pulse-widths-ns",
        "2,5", "--target-wer", "1e-3,1e-6", "--json", "--plot", str(png),
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["pulse_widths_ns"] == [2.0, 5.0] and set(doc["for_target_wer"]) == {"0.001", "1e-06"}
    assert abs(doc["wer_measured"][1] - doc["wer"][1]) < 5 * np.sqrt(doc["wer"][1] / 20000)
    e3 = doc["for_target_wer"]["0.001"]["energy_j"]
    e6 = doc["for_target_wer"]["1e-06"]["energy_j"]
    assert all(a < b for a, b in zip(e3, e6, strict=True))
    assert png.exists()


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--model", "multilevel", "--pulses", "1,2"], "--pulses applies to --model weak-reset"),
        (["--model", "weak-reset", "--levels", "4"], "--levels applies to --model multilevel"),
        (["--model", "mram", "--no-d2d"], "--no-d2d applies to --model weak-reset"),
        (["--model", "multilevel", "--levels", "1"], "integer >= 2"),
        (["--model", "multilevel", "--allocation", "log"], "'allocation'"),
        (["--model", "multilevel", "--params", "MAJUMDAR2021"], "not a MultiLevelParams"),
        (["--model", "mram", "--pulse-widths-ns", "1,-2"], "item 2 must be a positive number"),
        (["--model", "mram", "--current-ua", "0"], "positive number"),
        (["--model", "mram", "--target-wer", "2"], "'target_wer'"),
        (["--model", "pulse-response"], "--model pulse-response needs --params"),
        (
            ["--model", "pulse-response", "--params", "MAJUMDAR2021"],
            "must hold PulseResponseParams",
        ),
        (["--model", "mram", "--ramp-pulses", "5"], "--ramp-pulses applies to --model pulse-resp"),
        (["--model", "pulse-response", "--ramp-pulses", "0"], "positive"),
    ],
)
def test_model_specific_errors(capsys, argv, match):
    code, out, err = run(capsys, "device", "simulate", *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and match in lines[0], err


def test_out_of_memory_is_one_error_line(capsys):
    code, out, err = run(
        capsys, "device", "simulate", "--model", "multilevel", "--devices", str(10**11)
    )
    assert code == 2 and out == "" and err.startswith("error: not enough memory")


def _have_data():
    from crossbar import data

    try:
        data._find("mnist", None), data._find("fashion-mnist", None)
    except data.DatasetNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _have_data(), reason="MNIST / Fashion-MNIST files not available")
def test_demo_runs_small_and_reports(capsys):
    code, out, err = run(
        capsys, "demo", "--train", "200", "--test", "100", "--epochs", "1", "--hidden", "16",
        "--no-progress", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert [r["meta"] for r in doc["results"]] == [0.0, 2.0]
    for r in doc["results"]:
        assert 0.0 <= r["mnist_after_fmnist"] <= 1.0 and r["max_writes_per_device"] > 0
    assert doc["footprint_ratio_vs_bnn"] > 100


def test_demo_rejects_negative_meta(capsys):
    code, _, err = run(capsys, "demo", "--meta", "-1")
    assert code == 2 and err.startswith("error:") and "--meta" in err


def test_demo_without_data_is_one_error_line(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("CROSSBAR_DATA", raising=False)
    # even where the default folders hold the data: --data names the only folder searched
    code, out, err = run(capsys, "demo", "--no-progress", "--data", str(tmp_path / "nowhere"))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mnist not found")


def test_pulse_response_simulation_follows_the_fitted_law(capsys, tmp_path):
    """A fitted device drives the simulation: noiseless medians follow the closed form."""
    doc = {"version": 1, "model": "pulse-response", "name": "test device", "directions": {
        "potentiation": {"g0_s": 2e-5, "g_inf_s": 2e-4, "n0_pulses": 20.0,
                         "noise_intercept_s": 1e-7, "noise_slope": 0.0},
        "depression": {"g0_s": 1.8e-4, "g_inf_s": 1e-5, "n0_pulses": 30.0,
                       "noise_intercept_s": 0.0, "noise_slope": 0.0},
    }}  # fmt: skip
    path = tmp_path / "pr.json"
    path.write_text(json.dumps(doc))
    png = tmp_path / "pr.png"
    code, out, err = run(
        capsys, "device", "simulate", "--model", "pulse-response", "--params", str(path),
        "--devices", "400", "--ramp-pulses", "50", "--json", "--plot", str(png),
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    g = np.asarray(doc["conductance_us"]) * 1e-6
    assert g.shape == (101, 5) and png.stat().st_size > 0
    med = g[:, 2]
    # closed form of G_{n+1} = G_n + (G_inf - G_n)(1 - exp(-1/n0)), clipped to [g_min, g_max]
    expect = [2e-5]
    for step in range(100):
        g_inf, n0 = (2e-4, 20.0) if step < 50 else (1e-5, 30.0)
        x = expect[-1] + (g_inf - expect[-1]) * (1 - np.exp(-1 / n0))
        expect.append(min(max(x, 2e-5), 1.8e-4))
    np.testing.assert_allclose(med, expect, atol=2e-6)
    assert np.all(g[1:20, 4] > g[1:20, 0])  # the noise spreads the devices (before the clip)
    assert np.all(np.diff(med[:51]) >= 0) and np.all(np.diff(med[51:]) <= 0)


@pytest.mark.parametrize(
    ("argv", "option", "allowed"),
    [
        (["demo", "--train", "99999999999"], "--train", "from 2 to 60000"),
        (["demo", "--train", "1"], "--train", "from 2 to 60000"),
        (["demo", "--test", "1"], "--test", "from 2 to 10000"),
        (["demo", "--hidden", "100000000"], "--hidden", "from 1 to 8192"),
        (["demo", "--epochs", "0"], "--epochs", "from 1 to 1000"),
        (["demo", "--seed", str(2**63)], "--seed", "from 0 to 2**63 - 1"),
        (["run", "mram-ber", "--quick", "--seed", str(2**63)], "--seed", "from 0 to 2**63 - 1"),
    ],
)
def test_out_of_range_sizes_and_seeds_are_refused_with_the_range(capsys, argv, option, allowed):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and option in err and allowed in err


def test_run_demo_checks_its_arguments():
    from crossbar.demo import run_demo
    from devices import InvalidParameterError

    with pytest.raises(InvalidParameterError, match=r"'n_train'.*\[2, 60000\].*99999999999"):
        run_demo(n_train=99_999_999_999)
    with pytest.raises(InvalidParameterError, match=r"'batch'"):
        run_demo(batch=1)


@pytest.mark.skipif(not _have_data(), reason="MNIST / Fashion-MNIST files not available")
def test_demo_with_a_lone_last_sample_trains(capsys):
    """101 images in batches of 100 once left a batch of one, which batch norm cannot take."""
    code, out, err = run(capsys, "demo", "--train", "101", "--test", "1001", "--epochs", "1",
                         "--hidden", "8", "--no-progress", "--json")  # fmt: skip
    assert code == 0, err
    assert all(0.0 <= r["fmnist_after_fmnist"] <= 1.0 for r in json.loads(out)["results"])


@pytest.mark.parametrize("command", [["device", "simulate", "--model", "mram", "--devices", "100"],
                                     ["endurance"]])  # fmt: skip
def test_plot_outputs_follow_the_one_rule(capsys, tmp_path, command):
    """Every command: a non-PNG --plot is refused, an existing one is replaced only with --force,
    and nothing but the plot is left in the folder."""
    if command == ["endurance"]:
        np.savez(tmp_path / "device_writes.npz", writes=np.arange(1, 101), periods=10,
                 period=np.array("epoch"))  # fmt: skip
        command = ["endurance", str(tmp_path)]
    png = tmp_path / "p.png"
    code, _, err = run(capsys, *command, "--plot", str(tmp_path / "p.xyz"))
    assert code == 2 and ".png" in err and not (tmp_path / "p.xyz").exists()
    png.write_text("mine")
    code, _, err = run(capsys, *command, "--plot", str(png))
    assert code == 2 and "--force" in err and png.read_text() == "mine"
    code, _, err = run(capsys, *command, "--plot", str(png), "--force")
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_device_simulate_multilevel_takes_a_parameter_file(capsys, tmp_path):
    """--help promises a preset name or a JSON parameter file; the file was refused."""
    from devices.params import MultiLevelParams

    path = tmp_path / "ml.json"
    presets.to_json(MultiLevelParams(g_max_s=100e-6, name="mine"), path)
    code, out, err = run(capsys, "device", "simulate", "--model", "multilevel", "--params",
                         str(path), "--devices", "200", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["params"] == "mine"
    code, _, err = run(capsys, "device", "simulate", "--model", "mram", "--params", str(path))
    assert code == 2 and "is a MultiLevelParams, not a STTMRAMParams" in err


@pytest.mark.parametrize("delay", [1.0, 2.0, 3.0])
def test_ctrl_c_at_any_moment_is_one_line_and_status_130(tmp_path, delay):
    """SIGINT while the libraries import, while data load or while training: never a traceback."""
    import signal
    import time

    argv = [sys.executable, "-m", "crossbar", "demo", "--train", "2000", "--test", "200",
            "--no-progress", "--no-download"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    time.sleep(delay)
    if proc.poll() is not None:  # ended before the signal (e.g. no data here): nothing to check
        proc.communicate()
        pytest.skip(f"the command ended before the signal (status {proc.returncode})")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert proc.returncode == 130, text
    # one error line; a library warning printed before the signal may precede it
    assert "Traceback" not in text and text.strip().splitlines()[-1] == "error: interrupted", text
