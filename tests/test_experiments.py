"""The papers' experiments in quick mode: each asserts its paper's qualitative claim."""

import itertools
import json
import math
import re
import shutil

import numpy as np
import pytest
import torch

from crossbar.cli import main
from crossbar.experiments import EXPERIMENTS, run_experiment
from crossbar.experiments._run import RunContext
from crossbar.reports import endurance_report, footprint_report
from devices import InvalidParameterError, TruncatedDistribution, WearOutParams


def _have_mnist() -> bool:
    from crossbar.data import DatasetNotFoundError, _find

    try:
        _find("mnist", None)
    except DatasetNotFoundError:
        return False
    return True


HAVE_MNIST = _have_mnist()  # the files, not a folder (a failed download once left an empty one)
needs_data = pytest.mark.skipif(not HAVE_MNIST, reason="MNIST files not available")


def _run(name, out, *extra):
    assert main(["run", name, "--quick", "--out", str(out), "--no-progress", *extra]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["experiment"] == name and doc["config"]["quick"] is True
    assert all(isinstance(v, (int, float)) for v in doc["metrics"].values())
    assert set(doc["paper"]) <= set(doc["metrics"])
    assert (out / "results.md").exists() and list(out.glob("*.png"))
    assert not (out / "checkpoint.json").exists()
    return doc["metrics"]


@pytest.fixture(scope="module")
def qnn_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("qnn")
    return out, _run("qnn-multilevel", out)


@needs_data
def test_bnn_metaplastic_stops_forgetting(tmp_path, capsys):
    m = _run("bnn-metaplastic", tmp_path)
    assert m["m0.mnist_after_mnist"] > 0.9 and m["meta.mnist_after_mnist"] > 0.9
    assert m["m0.mnist_after_fmnist"] < 0.5  # catastrophic forgetting without metaplasticity
    assert m["meta.mnist_after_fmnist"] > m["m0.mnist_after_fmnist"] + 0.3
    assert m["meta.fmnist_after_fmnist"] > 0.75  # ... while the second task is still learned
    assert "meta.mnist_after_fmnist" in capsys.readouterr().out


@needs_data
def test_bnn_pmnist_retention_grows_with_m(tmp_path):
    m = _run("bnn-pmnist", tmp_path)
    means = [m[f"m{v}.mean_acc_all_tasks"] for v in ("0", "0.5", "1", "1.35")]
    assert means[-1] > means[0] + 0.1
    assert m["m1.35.task1_at_end"] > m["m0.task1_at_end"] + 0.2


@needs_data
def test_qnn_on_the_crossbar_matches_software_and_m_star_helps(qnn_dir):
    _, m = qnn_dir
    # the crossbar costs at most a few points
    assert abs(m["hw.fmnist_after_fmnist"] - m["sw.fmnist_after_fmnist"]) < 0.03
    assert abs(m["hw.mnist_after_fmnist"] - m["sw.mnist_after_fmnist"]) < 0.05
    assert m["hw.mnist_after_mnist"] > 0.85 and m["sw.mnist_after_mnist"] > 0.85
    # without metaplasticity MNIST is forgotten; m* = 2, 4, 6 keep it, and learn Fashion-MNIST
    assert m["sweep.m0.mnist_after_fmnist"] < 0.5
    for star in ("2", "4", "6"):
        assert m[f"sweep.m{star}.mnist_after_fmnist"] > m["sweep.m0.mnist_after_fmnist"] + 0.3
        assert m[f"sweep.m{star}.fmnist_after_fmnist"] > 0.7
    assert m["sweep.m4.mnist_after_fmnist"] > m["sweep.m2.mnist_after_fmnist"]
    assert m["max_writes_per_device"] >= m["mean_writes_per_device"] > 0
    assert m["footprint_ratio_vs_bnn"] == pytest.approx(20_029_440 / (784 * 64 + 64 * 10))


@needs_data
def test_weak_reset_ablation_d2d_is_the_most_detrimental(tmp_path):
    m = _run("weak-reset-ablation", tmp_path)
    assert m["acc.ideal"] > 0.9
    assert m["acc.d2d"] < m["acc.rtn"] and m["acc.d2d"] < m["acc.pink"]
    assert m["acc.all"] < m["acc.ideal"]


@needs_data
def test_mram_ber_is_harmless_up_to_1e_3_and_halves_energy(tmp_path):
    m = _run("mram-ber", tmp_path)
    assert abs(m["acc.ber_1e-3"] - m["acc.ber_0"]) < 0.01
    assert m["acc.ber_1e-1"] < m["acc.ber_0"] - 0.01
    assert 1.5 < m["energy_ratio"] < 2.5


@needs_data
def test_mesu_keeps_learning_without_task_boundaries(tmp_path):
    m = _run("mesu-pmnist", tmp_path)
    assert m["n_tasks"] == 10
    assert m["last5_mean_acc"] > 0.6
    assert m["first_task_acc_at_end"] > 0.2  # remembered, 9 tasks later


@needs_data
@pytest.mark.parametrize("stop_after", [61, 200])  # just after a task boundary; in a later arm
def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path, stop_after):
    full = run_experiment("qnn-multilevel", quick=True, out=tmp_path / "a")
    steps = {"n": 0}

    def interrupt(n):
        steps["n"] += n
        if steps["n"] >= stop_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment("qnn-multilevel", quick=True, out=tmp_path / "b", progress=interrupt)
    assert (tmp_path / "b" / "checkpoint.json").exists()
    with pytest.raises(InvalidParameterError, match="unfinished run"):
        run_experiment("qnn-multilevel", quick=True, out=tmp_path / "b")
    counted = {"n": 0}
    resumed = run_experiment("qnn-multilevel", quick=True, out=tmp_path / "b", resume=True,
                             progress=lambda n: counted.__setitem__("n", counted["n"] + n))  # fmt: skip
    assert resumed["metrics"] == full["metrics"]
    assert resumed["files"] == full["files"]  # files of earlier sessions are listed too
    assert sorted(f.name for f in (tmp_path / "b").iterdir()) == full["files"]
    exp = EXPERIMENTS["qnn-multilevel"]
    assert counted["n"] == exp.steps(exp.config(True, 0))  # the bar ends full


def test_run_errors_are_one_line(tmp_path, capsys):
    assert main(["run", "no-such", "--quick"]) == 2
    assert main(["run", "mram-ber", "--quick", "--resume", "--out", str(tmp_path)]) == 2
    assert main(["run", "qnn-multilevel", "--quick", "--device", "cuda"]) == 2
    assert main(["run", "mram-ber", "--quick", "--device", "meta", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error:") for line in err)
    assert "invalid choice" in err[0] and "no checkpoint" in err[1]
    assert "runs on the CPU" in err[2] and "'device'" in err[3]
    assert set(EXPERIMENTS) == {"bnn-metaplastic", "bnn-pmnist", "qnn-multilevel",
                                "weak-reset-ablation", "mram-ber", "mesu-pmnist"}  # fmt: skip


def test_endurance_lifetime_matches_the_limit_distribution(tmp_path):
    wear = WearOutParams(TruncatedDistribution("lognorm", 0.0, 1e6, 1.0, 1.0))
    np.savez(tmp_path / "device_writes.npz", writes=np.full(1000, 500), periods=10,
             period=np.array("epoch"))  # fmt: skip
    r = endurance_report(tmp_path, wear, plot=tmp_path / "e.png")
    # every device at 50 writes per epoch: F(T) = CDF(50 T) = 1 % at T = ppf(0.01) / 50
    assert r.lifetime_periods == pytest.approx(float(wear.limit_writes.ppf(0.01)) / 50, rel=1e-9)
    assert r.fraction_past_limit == pytest.approx(float(wear.limit_writes.cdf(500)))
    assert (tmp_path / "e.png").exists()
    # mixed rates: a Monte-Carlo population of limits fails 1 % at the projected lifetime
    writes = np.random.default_rng(0).integers(0, 2000, 5000)
    np.savez(tmp_path / "device_writes.npz", writes=writes, periods=4, period=np.array("epoch"))
    r = endurance_report(tmp_path, wear)
    limits = wear.limit_writes.sample(writes.size * 40, np.random.default_rng(1))
    failed = np.tile(writes, 40) / 4 * r.lifetime_periods > limits
    assert failed.mean() == pytest.approx(0.01, rel=0.1)
    np.savez(tmp_path / "device_writes.npz", writes=np.r_[np.zeros(999), 5], periods=1)
    assert math.isinf(endurance_report(tmp_path, wear).lifetime_periods)  # < 1 % ever written
    with pytest.raises(InvalidParameterError, match=r"no device_writes\.npz"):
        endurance_report(tmp_path / "nothing")


@needs_data
def test_endurance_command_on_an_experiment(qnn_dir, capsys):
    out, m = qnn_dir
    assert main(["endurance", str(out), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["max_writes"] == m["max_writes_per_device"]
    assert r["lifetime_periods"] > r["periods"] and math.isfinite(r["lifetime_periods"])
    assert (out / "endurance.png").exists()
    assert main(["endurance", str(out), "--limit-median", "-1"]) == 2


def test_footprint_accounting(capsys):
    r = footprint_report([784, 1024, 10])
    weights, bnn = 784 * 1024 + 1024 * 10, 20_029_440
    assert r.weights == weights and r.bnn_weights == bnn
    assert r.ratio_hidden == pytest.approx(bnn / weights)
    assert r.ratio_total == pytest.approx(bnn * 33 / (weights * (32 + 2 * 3)))
    h = r.hidden_units_for_15x
    assert footprint_report([784, round(h), 10]).ratio_total == pytest.approx(15, rel=0.01)
    assert main(["footprint", "--dims", "784,128,10", "--hidden-bits", "8"]) == 0
    assert "footprint ratio" in capsys.readouterr().out
    assert main(["footprint", "--dims", "784"]) == 2
    with pytest.raises(InvalidParameterError, match="'levels'"):
        footprint_report([784, 10], levels=1)


def test_config_overrides_are_checked_and_recorded(tmp_path, capsys):
    from crossbar.experiments import apply_overrides

    config = EXPERIMENTS["qnn-multilevel"].config(True, 0)
    assert apply_overrides("qnn-multilevel", config, {"meta": 3}).meta == 3
    with pytest.raises(InvalidParameterError, match=r"not a configuration field.*'meta'"):
        apply_overrides("qnn-multilevel", config, {"mta": 3.0})
    with pytest.raises(InvalidParameterError, match="expects a value like 64"):
        apply_overrides("qnn-multilevel", config, {"hidden": 64.5})
    with pytest.raises(InvalidParameterError, match="not a configuration field"):
        apply_overrides("qnn-multilevel", config, {"seed": 3})
    assert main(["run", "qnn-multilevel", "--quick", "--set", "hidden=1.5", "--out",
                 str(tmp_path / "x")]) == 2  # fmt: skip
    assert main(["run", "qnn-multilevel", "--quick", "--set", "nokey", "--out",
                 str(tmp_path / "y")]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error:") for line in err)
    assert "hidden" in err[0] and "KEY=VALUE" in err[1]


def test_a_checkpoint_made_before_a_field_existed_resumes_with_its_default(tmp_path):

    config = EXPERIMENTS["bnn-metaplastic"].config(True, 0)
    old = {k: v for k, v in config.to_dict().items() if k != "arithmetic"}
    RunContext("bnn-metaplastic", tmp_path, old)  # checkpointed by an older version
    ctx = RunContext("bnn-metaplastic", tmp_path, config, resume=True)
    assert ctx.config["arithmetic"] == "auto"
    with pytest.raises(InvalidParameterError, match="config"):
        RunContext("bnn-metaplastic", tmp_path, {**config.to_dict(), "arithmetic": "float32"},
                   resume=True)  # fmt: skip


@needs_data
def test_bnn_arithmetic_can_be_set_per_run(tmp_path):
    doc = run_experiment("mram-ber", quick=True, out=tmp_path,
                         overrides={"arithmetic": "float32"})  # fmt: skip
    assert doc["config"]["arithmetic"] == "float32"
    assert doc["metrics"]["acc.ber_0"] > 0.8


@pytest.mark.parametrize("batch", [1, 2, 7, 100])
def test_batch_bounds_cover_every_sample_once_and_never_leave_one_alone(batch):
    from crossbar.experiments._data import batch_bounds, n_batches

    for n in range(1, 320):
        bounds = batch_bounds(n, batch)
        assert len(bounds) == n_batches(n, batch)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        sizes = [hi - lo for lo, hi in bounds]
        assert max(sizes) <= batch + (1 if batch > 1 else 0)
        if batch > 1 and n > 1:
            assert min(sizes) >= 2


@needs_data
def test_a_finished_run_is_replaced_only_with_force(qnn_dir, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(qnn_dir[0], out)
    before = (out / "results.json").read_bytes()
    assert main(["run", "mram-ber", "--quick", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "finished run of 'qnn-multilevel'" in err[0] and "--force" in err[0]
    assert (out / "results.json").read_bytes() == before  # nothing touched
    assert main(["run", "mram-ber", "--quick", "--resume", "--out", str(out)]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert main(["run", "mram-ber", "--quick", "--resume", "--force", "--out", str(out)]) == 2
    (out / "notes.txt").write_text("the user's own file")
    assert main(["run", "mram-ber", "--quick", "--force", "--out", str(out), "--no-progress"]) == 0
    doc = json.loads((out / "results.json").read_text())
    assert doc["experiment"] == "mram-ber"
    # the old run's files are gone; files no run listed (the user's, a report's) stay
    names = {f.name for f in out.iterdir()}
    assert set(doc["files"]) <= names and "notes.txt" in names
    assert not names & {"qnn.png", "device_writes.npz", "checkpoint.json"}
    assert names - set(doc["files"]) <= {"notes.txt", "endurance.png"}


def test_an_unfinished_run_is_refused_and_named(tmp_path):
    RunContext("bnn-metaplastic", tmp_path, {"a": 1})
    with pytest.raises(
        InvalidParameterError, match=r"unfinished run .*'bnn-metaplastic'.*--resume.*--force"
    ):
        RunContext("mram-ber", tmp_path, {"b": 2})
    RunContext("mram-ber", tmp_path, {"b": 2}, force=True)  # starts over
    assert json.loads((tmp_path / "checkpoint.json").read_text())["experiment"] == "mram-ber"


def test_a_run_lists_and_removes_only_plain_file_names(tmp_path):
    ctx = RunContext("mram-ber", tmp_path, {"b": 2})
    for bad in ("../x.png", "a/b.png", "", ".."):
        with pytest.raises(ValueError, match="plain file names"):
            ctx.output(bad)
    (tmp_path / "results.json").write_text(
        json.dumps({"experiment": "x", "files": ["../keep.txt"]})
    )
    (tmp_path.parent / "keep.txt").write_text("outside the run folder")
    RunContext("mram-ber", tmp_path, {"b": 2}, force=True)
    assert (tmp_path.parent / "keep.txt").exists()


@needs_data
@pytest.mark.parametrize("name", ["bnn-metaplastic", "qnn-multilevel"])
def test_results_do_not_depend_on_the_thread_count(tmp_path, name):
    """torch (batch norm, MKL products, bfloat16 products) and numba at 1 and at 2 threads give
    the same numbers, bit for bit; results.json records the counts."""
    import numba
    import torch

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has a single thread here")
    saved = torch.get_num_threads(), numba.get_num_threads()
    docs = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            numba.set_num_threads(threads)
            docs.append(run_experiment(name, quick=True, out=tmp_path / str(threads)))
    finally:
        torch.set_num_threads(saved[0])
        numba.set_num_threads(saved[1])
    assert docs[0]["metrics"] == docs[1]["metrics"]
    assert [d["threads"]["torch"] for d in docs] == [1, 2]
    assert [d["threads"]["numba"] for d in docs] == [1, 2]


def _interrupted_run(tmp_path):
    """A bnn-style unit with a saved in-progress state, as an interrupted run leaves it."""
    ctx = RunContext("mram-ber", tmp_path, {"b": 2})
    ctx.save_state("train", {"w": torch.arange(6.0), "epoch": 3})
    return ctx.state["file"]


def test_a_damaged_state_file_is_detected_on_resume(tmp_path):
    name = _interrupted_run(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["checkpoint.json", name]
    ctx = RunContext("mram-ber", tmp_path, {"b": 2}, resume=True)
    assert ctx.load_state("train")["epoch"] == 3 and ctx.load_state("other") is None
    data = bytearray((tmp_path / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit
    (tmp_path / name).write_bytes(bytes(data))
    ctx = RunContext("mram-ber", tmp_path, {"b": 2}, resume=True)
    with pytest.raises(InvalidParameterError, match=r"SHA-256 .* does not match .* damaged"):
        ctx.load_state("train")
    (tmp_path / name).unlink()
    with pytest.raises(InvalidParameterError, match="cannot be read"):
        RunContext("mram-ber", tmp_path, {"b": 2}, resume=True).load_state("train")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("{not json", "the file is not JSON"),
        ("[1, 2]", "the file is not a JSON object"),
        ('{"config": {"b": 2}, "units": {}}', "'experiment'"),
        ('{"experiment": "mram-ber", "config": 3, "units": {}}', "'config'"),
        ('{"experiment": "mram-ber", "config": {"b": 2}, "units": []}', "'units'"),
        ('{"experiment": "mram-ber", "config": {"b": 2}, "units": {}, "seconds": NaN}',
         "'seconds'"),
        ('{"experiment": "mram-ber", "config": {"b": 2}, "units": {}, "files": ["../x"]}',
         "'files'"),
        ('{"experiment": "mram-ber", "config": {"b": 2}, "units": {}, "state": '
         '{"file": "../../etc/passwd", "key": "train", "sha256": "00"}}', "'state'"),
    ],
)  # fmt: skip
def test_a_damaged_checkpoint_json_is_one_clear_error(tmp_path, capsys, text, field):
    _interrupted_run(tmp_path)
    (tmp_path / "checkpoint.json").write_text(text)
    with pytest.raises(InvalidParameterError, match=f"checkpoint.json: {re.escape(field)}"):
        RunContext("mram-ber", tmp_path, {"b": 2}, resume=True)
    assert main(["run", "mram-ber", "--quick", "--resume", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "checkpoint.json" in err[0]


def test_a_non_utf8_checkpoint_json_is_one_clear_error(tmp_path):
    _interrupted_run(tmp_path)
    (tmp_path / "checkpoint.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(InvalidParameterError, match="not UTF-8"):
        RunContext("mram-ber", tmp_path, {"b": 2}, resume=True)


@pytest.mark.parametrize(
    "content",
    [
        b"garbage, not a zip",
        {"writes": np.array([1.0, np.nan]), "periods": 10},
        {"writes": np.array([1, -5]), "periods": 10},
        {"writes": np.array([1, 2]), "periods": np.nan},
        {"writes": np.array([1, 2]), "periods": -1},
        {"writes": np.array([]), "periods": 1},
        {"writes": np.array([[1, 2]]), "periods": 1},
        {"periods": 1},
        {"writes": np.array(["a", "b"]), "periods": 1},
        {"writes": np.array([1, 2]), "periods": np.array([1, 2])},
    ],
)
def test_endurance_of_a_bad_writes_file_is_one_error_line(tmp_path, capsys, content):
    path = tmp_path / "device_writes.npz"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savez(path, **content)
    assert main(["endurance", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "device_writes.npz" in err[0]
    assert not (tmp_path / "endurance.png").exists()


def test_configurations_are_frozen_dataclasses_with_documented_fields():
    import dataclasses

    from crossbar.experiments import ExperimentConfig

    for exp in EXPERIMENTS.values():
        config = exp.config(True, 0)
        assert isinstance(config, ExperimentConfig) and dataclasses.is_dataclass(config)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.seed = 1
        doc = config.to_dict()
        assert doc["quick"] is True and doc["seed"] == 0 and json.loads(json.dumps(doc)) == doc
        assert type(config)(**doc) == config  # the saved form rebuilds the configuration


def test_a_run_without_its_data_is_reported_before_anything_is_left(tmp_path, monkeypatch, capsys):
    """Missing datasets (offline) are reported after the arguments and the folder are checked,
    and leave no unfinished run behind: the same command works once the data are there."""
    from crossbar import data

    monkeypatch.setattr(data, "search_paths", lambda root=None: [tmp_path / "nodata"])
    out = tmp_path / "run"
    assert main(["run", "mram-ber", "--quick", "--out", str(out), "--set", "nokey=1"]) == 2
    assert "not a configuration field" in capsys.readouterr().err
    assert main(["run", "mram-ber", "--quick", "--out", str(out)]) == 2
    assert "crossbar data download mnist" in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["run", "mram-ber", "--quick", "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
