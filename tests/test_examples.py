"""Every script of examples/ runs in its quick form and writes what it says."""

import importlib.util
from pathlib import Path

import pytest

from crossbar.data import DatasetNotFoundError, _find
from devices import presets

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _have_mnist():
    try:
        _find("mnist", None)
    except DatasetNotFoundError:
        return False
    return True


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not _have_mnist(), reason="MNIST files not available")
def test_inference_at_read_times_and_adc_resolutions(tmp_path):
    results = _load("inference_read_time_adc").main(["--quick", "--out", str(tmp_path)])
    assert results["software"] > 0.8
    for accs in results["crossbar"].values():  # 8-level crossbars stay near software
        assert all(abs(a - results["software"]) < 0.05 for a in accs)
    assert (tmp_path / "inference_read_time_adc.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.skipif(not _have_mnist(), reason="MNIST files not available")
def test_endurance_projection(tmp_path):
    report = _load("endurance_projection").main(["--quick", "--out", str(tmp_path)])
    assert report.devices == 2 * (784 * 128 + 128 * 10) and report.max_writes > 0
    assert 1 < report.lifetime_periods < float("inf")
    assert (tmp_path / "endurance.png").exists() and (tmp_path / "device_writes.npz").exists()


@pytest.mark.skipif(not _have_mnist(), reason="MNIST files not available")
def test_weak_reset_in_situ_training_learns():
    out = _load("weak_reset_in_situ").main(["--quick"])
    assert out["curve"][-1] > 0.75  # a binarized 784-256-10 on 3,000 images, 2 epochs
    assert out["pulses"].max() > 0 and out["pulses"].size == 2 * (784 * 256 + 256 * 10)


def test_fit_a_csv_then_train_a_layer_on_the_fit(tmp_path):
    out = _load("fit_csv_then_layer").main(["--quick", "--out", str(tmp_path)])
    truth = presets.MAJUMDAR2021.r0_ohm.median()
    # the layer's devices carry the fitted population: its R0 median is the published one
    assert out["layer_r0_median"] == pytest.approx(truth, rel=0.05)
    assert (tmp_path / "my_devices.json").exists() and tuple(out["output"].shape) == (4, 8)
