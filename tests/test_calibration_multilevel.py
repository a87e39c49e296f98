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
    lo, hi = fit.intervals["sigma_relax_s"]  # bootstrap over cells: brackets the estimate
    assert lo < fit.params.sigma_relax_s < hi and hi - lo < 0.3 * fit.params.sigma_relax_s
    assert fit.summary()["intervals"]["relax_log_growth"][0] < fit.params.relax_log_growth


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


def _ml_rows(n=512, times=(0.0, 60.0, 86400.0), seed=3):
    cells = MultiLevelRRAM(n, rng=seed)
    levels = np.arange(n) % 8
    cells.program(levels)
    rows = []
    for t in times:
        g = cells.read(t)
        rows += [(f"c{i}", int(levels[i]), t, float(g[i])) for i in range(n)]
    return rows


def _write(path, rows):
    path.write_text("device_id,level,time_s,conductance_s\n"
                    + "".join(f"{d},{lv},{t},{g:.9g}\n" for d, lv, t, g in rows))  # fmt: skip
    return path


def test_one_absurd_read_is_set_aside(tmp_path, capsys):
    rows = _ml_rows()
    clean = fit_multilevel(load_multilevel(_write(tmp_path / "a.csv", rows)))
    rows[5] = (*rows[5][:3], 1e300)
    out = tmp_path / "p.json"
    assert (
        main(["fit", "multilevel", str(_write(tmp_path / "b.csv", rows)), "--out", str(out)]) == 0
    )
    text = capsys.readouterr().out
    assert "1 read(s) set aside" in text
    fit = fit_multilevel(load_multilevel(tmp_path / "b.csv"))
    assert fit.outliers == 1
    assert fit.params.sigma_relax_s == pytest.approx(clean.params.sigma_relax_s, rel=0.05)
    assert fit.params.g_max_s == pytest.approx(clean.params.g_max_s, rel=1e-3)


def test_reads_at_one_time_do_not_pretend_to_fit_relaxation(tmp_path, capsys):
    path = _write(tmp_path / "t0.csv", _ml_rows(times=(0.0,)))
    out = tmp_path / "p.json"
    assert main(["fit", "multilevel", str(path), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "NOT FITTED" in text and "kept from CEA_LETI_130NM" in text
    import json

    assert json.loads(out.read_text())["fit"]["relaxation_fitted"] is False


def test_a_single_read_per_level_and_time_is_one_error_line(tmp_path, capsys):
    rows = [(f"c{lv}", lv, t, 2e-5 * (1 + lv)) for lv in range(8) for t in (0.0, 60.0)]
    path = _write(tmp_path / "one.csv", rows)
    assert main(["fit", "multilevel", str(path), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "single read" in err[0]


def test_synthetic_multilevel_file_round_trips_through_the_cli(tmp_path, capsys):
    from calibration.synthetic import write_multilevel_csv

    path = tmp_path / "ml.csv"
    write_multilevel_csv(path, n_cells=512, times_s=(0.0, 60.0, 86400.0), rng=1)
    out = tmp_path / "p.json"
    assert main(["fit", "multilevel", str(path), "--out", str(out), "--bootstrap", "30"]) == 0
    assert "90 % intervals over devices" in capsys.readouterr().out
    import json

    doc = json.loads(out.read_text())
    assert doc["fit"]["relaxation_fitted"] and len(doc["fit"]["intervals"]["sigma_relax_s"]) == 2
