import numpy as np
import pytest

from calibration.io import CSVFormatError
from calibration.multilevel import fit_multilevel, load_multilevel
from crossbar.cli import main
from devices import InvalidParameterError, MultiLevelParams, MultiLevelRRAM, presets


@pytest.fixture(scope="module")
def ml_csv(tmp_path_factory):
    n = 8192
    cells = MultiLevelRRAM(n, rng=5)
    levels = np.arange(n) % 8
    cells.program(levels)
    rows = ["device_id,level,time_s,conductance_s"]
    for t in (0.0, 1.0, 60.0, 86400.0):
        g = cells.read(t)
        rows += [f"c{i},{levels[i]},{t},{g[i]:.9g}" for i in range(n)]
    path = tmp_path_factory.mktemp("ml") / "ml.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_round_trip_recovers_the_relaxation_law(ml_csv):
    fit = fit_multilevel(load_multilevel(ml_csv))
    truth = presets.CEA_LETI_130NM
    assert fit.params.sigma_relax_s == pytest.approx(truth.sigma_relax_s, rel=0.15)
    assert fit.params.relax_log_growth == pytest.approx(truth.relax_log_growth, rel=0.4)
    np.testing.assert_allclose(fit.mean_s[:, 0], np.linspace(20e-6, 120e-6, 8), rtol=0.01)
    assert (fit.sd_s[:, -1] > fit.sd_s[:, 0]).all()  # every level spreads out with time
    growth = fit.sd_s[:, -1] ** 2 - fit.sd_s[:, 0] ** 2
    assert growth[0] > 2 * growth[-1]  # low levels relax most


def test_parameter_file_loads_and_runs(ml_csv, tmp_path, capsys):
    out, png = tmp_path / "ml.json", tmp_path / "ml.png"
    assert main(["fit", "multilevel", str(ml_csv), "--out", str(out), "--plot", str(png)]) == 0
    params = presets.from_json(out)
    assert isinstance(params, MultiLevelParams) and params.name == "fitted"
    cells = MultiLevelRRAM(800, params=params, rng=0)
    cells.program(np.arange(800) % 8)
    assert cells.bit_error_rate(60.0) < 1e-2
    assert png.exists() and "relaxation" in capsys.readouterr().out


@pytest.mark.parametrize(
    "text,line,column,match",
    [
        ("device_id,level\n", 1, "conductance_s", "missing required column"),
        ("device_id,levle,conductance_s\n", 1, "levle", "Did you mean 'level'"),
        ("device_id,level,conductance_s\na,0,-1e-5\n", 2, "conductance_s", "must be > 0"),
        ("device_id,level,conductance_s,time_s\na,0,1e-5,-1\n", 2, "time_s", "must be >= 0"),
        ("device_id,level,conductance_s\na,0,1e-5\na,1,2e-5\n", 3, "device_id", "duplicate"),
        ("device_id,level,conductance_s\na,x,1e-5\n", 2, "level", "not a number"),
        ("device_id,level,conductance_s\n", 2, None, "no data rows"),
    ],
)
def test_malformed_multilevel_files(tmp_path, text, line, column, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CSVFormatError, match=match) as info:
        load_multilevel(path)
    assert (info.value.line, info.value.column) == (line, column)


def test_fit_needs_two_levels(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("device_id,level,conductance_s\na,0,1e-5\nb,0,1.1e-5\n")
    with pytest.raises(InvalidParameterError, match="at least 2 levels"):
        fit_multilevel(load_multilevel(path))
