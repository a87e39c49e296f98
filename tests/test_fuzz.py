"""Random bytes at every loader and random argument vectors at the CLI: a valid result or one
clear error (InvalidParameterError / exit status 2 with one ``error:`` line), never a traceback."""

import io
import zipfile

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from calibration.io import load_pulse_trains
from calibration.multilevel import load_multilevel
from crossbar.cli import main
from crossbar.reports import endurance_report
from devices import STTMRAM, InvalidParameterError, MultiLevelRRAM, WeakResetRRAM, presets

FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def _valid_state_bytes(tmp_path):
    path = tmp_path / "valid.npz"
    WeakResetRRAM(7, rng=0).save(path)
    return path.read_bytes()


@FUZZ
@given(data=hs.data())
def test_state_loaders_take_damaged_files(tmp_path, data):
    base = _valid_state_bytes(tmp_path)
    kind = data.draw(hs.sampled_from(["random", "truncate", "flip", "zip_of_junk"]))
    if kind == "random":
        blob = data.draw(hs.binary(max_size=400))
    elif kind == "truncate":
        blob = base[: data.draw(hs.integers(0, len(base)))]
    elif kind == "flip":
        pos = data.draw(hs.integers(0, len(base) - 1))
        blob = base[:pos] + bytes([base[pos] ^ data.draw(hs.integers(1, 255))]) + base[pos + 1 :]
    else:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("meta_json.npy", data.draw(hs.binary(max_size=200)))
        blob = buf.getvalue()
    path = tmp_path / "state.npz"
    path.write_bytes(blob)
    for cls in (WeakResetRRAM, MultiLevelRRAM, STTMRAM):
        try:
            cls.load(path)
        except InvalidParameterError:
            pass


@FUZZ
@given(blob=hs.binary(max_size=600))
def test_text_loaders_take_random_bytes(tmp_path, blob):
    path = tmp_path / "f.csv"
    path.write_bytes(blob)
    for load in (load_pulse_trains, load_multilevel, presets.from_json):
        try:
            load(path)
        except InvalidParameterError:
            pass
    (tmp_path / "device_writes.npz").write_bytes(blob)
    try:
        endurance_report(tmp_path)
    except InvalidParameterError:
        pass


_VALUES = ["0", "-1", "1", "3", "nan", "inf", "1e300", "-1e-300", str(2**64), "x", "", "a,b",
           "1,2,3", "weak-reset", "multilevel", "mram", "pulse-response", "paper", "none",
           "MAJUMDAR2021", "CEA_LETI_130NM", "p.png", "p.xyz", "../nope/x.json"]  # fmt: skip
_COMMANDS = [
    ["device", "simulate", "--devices", "50", "--model"],
    ["device", "simulate", "--model", "weak-reset", "--devices"],
    ["device", "simulate", "--model", "multilevel", "--devices", "64", "--levels"],
    ["device", "simulate", "--model", "mram", "--devices", "64", "--pulse-widths-ns"],
    ["device", "simulate", "--model", "weak-reset", "--devices", "50", "--pulses"],
    ["device", "simulate", "--model", "weak-reset", "--devices", "50", "--noise"],
    ["device", "simulate", "--model", "multilevel", "--devices", "64", "--params"],
    ["footprint", "--hidden"],
    ["endurance", "--limit-median", "1e6", "DIR", "--limit-sigma"],
    ["fit", "weak-reset", "CSV", "--out"],
    ["fit", "multilevel", "CSV", "--out", "OUT", "--columns"],
    ["demo", "--train"],
    ["demo", "--hidden"],
    ["demo", "--seed"],
    ["run", "mram-ber", "--quick", "--set"],
    ["run", "--seed"],
]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    command=hs.sampled_from(_COMMANDS),
    value=hs.sampled_from(_VALUES),
    extra=hs.lists(hs.sampled_from([*_VALUES, "--json", "--force", "--plot"]), max_size=2),
)
def test_random_argument_vectors_exit_0_or_2_with_one_error_line(tmp_path, capsys, command,
                                                                 value, extra):  # fmt: skip
    np.savez(tmp_path / "device_writes.npz", writes=np.arange(1, 50), periods=5,
             period=np.array("epoch"))  # fmt: skip
    (tmp_path / "m.csv").write_text("device_id,pulse_index,resistance_ohm\nd0,0,1000\n")
    subs = {"DIR": str(tmp_path), "CSV": str(tmp_path / "m.csv"), "OUT": str(tmp_path / "o.json")}
    argv = [subs.get(a, a) for a in command] + [value, *extra]
    if argv[0] in ("demo", "run") and value.lstrip("-").replace("e", "").isdigit():
        argv += ["--train", "1"] if argv[0] == "demo" else ["--set", "nokey=1"]  # keep it short
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    assert code in (0, 2), (argv, err)
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (argv, err)


_JSON = hs.recursive(
    hs.none() | hs.booleans() | hs.integers(-10, 10**20) | hs.floats() | hs.text(max_size=5),
    lambda children: (
        hs.lists(children, max_size=3) | hs.dictionaries(hs.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@FUZZ
@given(
    model=hs.sampled_from(["weak-reset", "multilevel", "mram", "pulse-response", "x"]),
    body=hs.dictionaries(
        hs.sampled_from(
            ["parameters", "constants", "name", "citation", "r0_ohm", "fit", "g_min_s"]
        ),
        _JSON,
        max_size=4,
    ),
)
def test_parameter_documents_with_random_fields_load_or_fail_cleanly(model, body):
    doc = {"version": presets.FORMAT_VERSION, "model": model, **body}
    try:
        presets.from_dict(doc)
    except InvalidParameterError:
        pass
