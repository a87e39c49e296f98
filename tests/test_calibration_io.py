import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from calibration.io import CSVFormatError, load_pulse_trains
from devices import InvalidParameterError

GOOD = "device_id,pulse_index,resistance_ohm\nd1,0,7000\nd1,1,7100\nd2,0,6900\nd2,1,7050\n"


def _write(tmp_path, text, name="data.csv", bom=False):
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def test_long_layout_loads_and_groups(tmp_path):
    m = load_pulse_trains(_write(tmp_path, GOOD))
    assert m.device_names == ("d1", "d2") and m.n_devices == 2
    trains = m.trains()
    assert [t[0] for t in trains] == ["d1", "d2"]
    np.testing.assert_array_equal(trains[0][3], [7000, 7100])
    np.testing.assert_allclose(m.conductance_s, 1 / m.resistance_ohm)


def test_bom_whitespace_case_and_unsorted_rows_are_accepted(tmp_path):
    text = " Device_ID , Pulse_Index ,Resistance_Ohm\nd2, 1 ,7050\n d1,1, 7100\nd2,0,6900\nd1,0,7000\n\n"
    m = load_pulse_trains(_write(tmp_path, text, bom=True))
    ref = load_pulse_trains(_write(tmp_path, GOOD, "ref.csv"))
    np.testing.assert_array_equal(m.resistance_ohm, [7000, 7100, 6900, 7050])
    np.testing.assert_array_equal(m.pulse, ref.pulse)


def test_conductance_current_and_column_mapping(tmp_path):
    g = load_pulse_trains(_write(tmp_path, "device_id,pulse_index,conductance_s\na,0,1e-4\n"))
    assert g.resistance_ohm[0] == pytest.approx(1e4)
    i = load_pulse_trains(_write(tmp_path, "dev,n,current_a,read_voltage_v\na,0,2e-5,0.2\n", "i.csv"),
                          columns="dev=device_id,n=pulse_index")  # fmt: skip
    assert i.resistance_ohm[0] == pytest.approx(1e4)
    j = load_pulse_trains(_write(tmp_path, "device_id,pulse_index,current_a\na,0,2e-5\n", "j.csv"),
                          read_voltage_v=0.1)  # fmt: skip
    assert j.resistance_ohm[0] == pytest.approx(5e3)


def test_optional_columns_and_cycles(tmp_path):
    text = ("device_id,cycle,pulse_index,resistance_ohm,pulse_type,time_s\n"
            "a,1,0,7000,weak_reset,0.5\na,0,0,6000,SET,0.1\na,0,1,6100,weak_reset,0.2\n")  # fmt: skip
    m = load_pulse_trains(_write(tmp_path, text))
    assert [(t[1], len(t[2])) for t in m.trains()] == [(0, 2), (1, 1)]
    np.testing.assert_array_equal(m.extra["time_s"], [0.1, 0.2, 0.5])
    assert list(m.extra["pulse_type"]) == ["set", "weak_reset", "weak_reset"]


@pytest.mark.parametrize(
    "text,line,column,match",
    [
        ("", 1, None, "empty file"),
        ("device_id,pulse_index\n", 1, None, "missing a quantity column"),
        ("device_id,resistance_ohm\na,1\n", 1, "pulse_index", "missing required column"),
        (
            "device_id,pulse_index,resistance_ohm,conductance_s\na,0,1,1\n",
            1,
            "conductance_s",
            "mixed units",
        ),
        (
            "device_id,pulse_index,resistence_ohm\na,0,1\n",
            1,
            "resistence_ohm",
            "Did you mean 'resistance_ohm'",
        ),
        ("device_id,pulse_index,resistance_ohm,resistance_ohm\n", 1, "resistance_ohm", "twice"),
        ("device_id,pulse_index,resistance_ohm\n", 2, None, "no data rows"),
        ("device_id,pulse_index,resistance_ohm\na,0,abc\n", 2, "resistance_ohm", "not a number"),
        ("device_id,pulse_index,resistance_ohm\na,0,nan\n", 2, "resistance_ohm", "not a finite"),
        (
            "device_id,pulse_index,resistance_ohm\na,0,1\na,1,inf\n",
            3,
            "resistance_ohm",
            "not a finite",
        ),
        ("device_id,pulse_index,resistance_ohm\na,0,-5\n", 2, "resistance_ohm", "must be > 0"),
        ("device_id,pulse_index,resistance_ohm\na,0,0\n", 2, "resistance_ohm", "must be > 0"),
        (
            "device_id,pulse_index,resistance_ohm\na,1.5,7\n",
            2,
            "pulse_index",
            "non-negative integer",
        ),
        (
            "device_id,pulse_index,resistance_ohm\na,-1,7\n",
            2,
            "pulse_index",
            "non-negative integer",
        ),
        (
            "device_id,pulse_index,resistance_ohm\na,0,7\nb,0,8\na,0,9\n",
            4,
            "pulse_index",
            "duplicate.*line 2",
        ),
        ("device_id,pulse_index,resistance_ohm\na,0\n", 2, None, "2 fields, the header has 3"),
        ("device_id,pulse_index,resistance_ohm\n,0,7\n", 2, "device_id", "empty device id"),
        ("device_id,pulse_index,current_a\na,0,1e-5\n", 2, "read_voltage_v", "read voltage"),
        (
            "device_id,pulse_index,resistance_ohm,pulse_type\na,0,7,erase\n",
            2,
            "pulse_type",
            "must be one of",
        ),
    ],
)
def test_every_malformed_file_is_rejected_with_its_position(tmp_path, text, line, column, match):
    path = _write(tmp_path, text)
    with pytest.raises(CSVFormatError, match=match) as info:
        load_pulse_trains(path)
    assert info.value.line == line and info.value.column == column
    assert str(info.value).startswith(f"{path}:{line}")


def test_skip_bad_rows_reports_what_was_dropped(tmp_path):
    text = "device_id,pulse_index,resistance_ohm\na,0,7\na,1,x\na,2,-1\na,3,8\n"
    with pytest.raises(CSVFormatError):
        load_pulse_trains(_write(tmp_path, text))
    m = load_pulse_trains(_write(tmp_path, text), skip_bad_rows=True)
    np.testing.assert_array_equal(m.pulse, [0, 3])
    assert sum(m.skipped.values()) == 2


def test_wide_layout_with_trailing_empty_and_zero_cells(tmp_path):
    text = "r1,r2,r3\n1e-4,2e-4,1e-4\n1.1e-4,,2e-4\n,,0\n"
    m = load_pulse_trains(_write(tmp_path, text), layout="wide", quantity="conductance_s")
    assert [(t[0], len(t[2])) for t in m.trains()] == [("r1", 2), ("r2", 1), ("r3", 2)]
    with pytest.raises(CSVFormatError, match="after the ramp ended") as info:
        load_pulse_trains(_write(tmp_path, "r1\n1e-4\n\n2e-4\n", "gap.csv"), layout="wide",
                          quantity="conductance_s")  # fmt: skip
    assert info.value.line == 4
    with pytest.raises(InvalidParameterError, match="'quantity'"):
        load_pulse_trains(_write(tmp_path, text, "q.csv"), layout="wide")


def test_real_crosssim_ramps_load():
    path = "../shared/data/devices/crosssim-pulse-trains/set.csv"
    import os

    if not os.path.exists(path):
        pytest.skip("shared data not available")
    m = load_pulse_trains(path, layout="wide", quantity="current_a", read_voltage_v=0.1)
    lengths = [len(t[2]) for t in m.trains()]
    assert len(lengths) == 39 and min(lengths) >= 185 and max(lengths) <= 192
    assert 390 < m.resistance_ohm.min() < m.resistance_ohm.max() < 640


def test_bad_arguments(tmp_path):
    with pytest.raises(InvalidParameterError, match=r"'layout'.*Did you mean 'long'"):
        load_pulse_trains(_write(tmp_path, GOOD), layout="lng")
    with pytest.raises(CSVFormatError, match="no such file"):
        load_pulse_trains(tmp_path / "missing.csv")
    with pytest.raises(InvalidParameterError, match="'columns'"):
        load_pulse_trains(_write(tmp_path, GOOD), columns="dev")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=hs.lists(hs.lists(hs.sampled_from(
    ["a", "b", "0", "1", "2", "7e3", "-1", "nan", "inf", "", " 3 ", "x", "1.5", "1e-300", "1e308"]),
    min_size=0, max_size=4), max_size=6))  # fmt: skip
def test_fuzzed_files_load_or_fail_cleanly(tmp_path, body):
    text = "device_id,pulse_index,resistance_ohm\n" + "\n".join(",".join(r) for r in body)
    path = _write(tmp_path, text, "fuzz.csv")
    try:
        m = load_pulse_trains(path)
    except CSVFormatError:
        return
    # anything accepted is clean: finite positive resistances, integer pulses, unique keys
    assert np.all(np.isfinite(m.resistance_ohm)) and np.all(m.resistance_ohm > 0)
    keys = set(zip(m.device.tolist(), m.cycle.tolist(), m.pulse.tolist(), strict=True))
    assert len(keys) == m.device.size


def _long_rows(rng, n_devices=5, n_pulses=7):
    rows = []
    for d in rng.permutation(n_devices):  # name order differs from file order
        for c in range(2):
            for p in range(n_pulses):
                kind = ("set", "reset", "weak_reset")[(p + c) % 3]
                rows.append(f"dev{d * 7},{c},{p},{1000 + 100 * d + 10 * c + p},{kind},{p * 0.5}")
    return rows


@pytest.mark.parametrize("arrangement", ["grouped", "reversed", "shuffled"])
def test_row_order_never_changes_the_result(tmp_path, arrangement):
    """Grouped files take the block-move path, others the lexsort path; both must agree."""
    rng = np.random.default_rng(3)
    rows = _long_rows(rng)
    header = "device_id,cycle,pulse_index,resistance_ohm,pulse_type,time_s\n"
    ref = load_pulse_trains(_write(tmp_path, header + "\n".join(sorted(rows)) + "\n", "ref.csv"))
    first_seen = list(dict.fromkeys(r.split(",")[0] for r in rows))
    assert first_seen != sorted(first_seen)  # so grouped rows need their device blocks moved
    if arrangement == "reversed":
        rows = rows[::-1]
    elif arrangement == "shuffled":
        rows = [rows[k] for k in rng.permutation(len(rows))]
    m = load_pulse_trains(_write(tmp_path, header + "\n".join(rows) + "\n"))
    assert m.device_names == ref.device_names == tuple(sorted(ref.device_names))
    for name in ("device", "cycle", "pulse", "resistance_ohm"):
        np.testing.assert_array_equal(getattr(m, name), getattr(ref, name))
    for name in ("pulse_type", "time_s"):
        np.testing.assert_array_equal(m.extra[name], ref.extra[name])
    # every row keeps its own values: resistance encodes (device, cycle, pulse)
    number = np.array([int(n[3:]) // 7 for n in m.device_names])[m.device]
    np.testing.assert_array_equal(m.resistance_ohm, 1000 + 100 * number + 10 * m.cycle + m.pulse)
    assert "cycle" not in m.extra


def test_duplicate_error_names_both_lines_even_after_skipped_rows(tmp_path):
    text = (
        "device_id,pulse_index,resistance_ohm\n"
        "b,0,7\n"
        "a,1,oops\n"  # line 3: skipped, and must not be taken for the duplicate
        "a,1,8\n"  # line 4
        "b,1,9\n"
        "a,1,10\n"  # line 6
    )
    with pytest.raises(CSVFormatError, match=r":6: column 'pulse_index'.*also on line 4"):
        load_pulse_trains(_write(tmp_path, text), skip_bad_rows=True)


def test_a_bad_byte_far_in_the_file_is_reported_at_its_line(tmp_path):
    """The decoder reads in blocks: the error surfaced at line 1 for a byte at line 310."""
    lines = ["device_id,pulse_index,resistance_ohm"] + [f"d0,{k},{1000 + k}" for k in range(400)]
    data = "\n".join(lines).encode()
    cut = data.index(b"\nd0,308,") + 1  # the start of line 310
    path = tmp_path / "bad.csv"
    path.write_bytes(data[:cut] + b"d0,308,10\xff0\n" + data[cut:].split(b"\n", 1)[1])
    with pytest.raises(CSVFormatError, match=r"bad.csv:310: not UTF-8") as info:
        load_pulse_trains(path)
    assert info.value.line == 310


def test_an_overlong_field_is_a_positioned_error(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("device_id,pulse_index,resistance_ohm\nd0,0,1000\nd0,1," + "9" * 200_000 + "\n")
    with pytest.raises(CSVFormatError, match=r"long.csv:\d+: unreadable CSV .*field larger"):
        load_pulse_trains(path)


@pytest.mark.parametrize("volts", [1e300, 0.0, -1.0, float("nan"), 1e-9])
def test_read_voltage_outside_the_physical_range_is_refused(tmp_path, volts):
    path = tmp_path / "i.csv"
    path.write_text("device_id,pulse_index,current_a\nd0,0,1e-5\nd0,1,2e-5\n")
    with pytest.raises(InvalidParameterError, match=r"'read_voltage_v'.*\[0.0001, 100.0\]"):
        load_pulse_trains(path, read_voltage_v=volts)


# -- leniency where it is safe: dialects and extra columns ------------------------------------
ROWS = [("d1", 0, 7000.0), ("d1", 1, 7100.5), ("d2", 0, 6900.0), ("d2", 1, 7.05e3)]


def _dialect_text(delimiter, quote, crlf, upper, extra, sci):
    names = ["device_id", "pulse_index", "resistance_ohm"] + (
        ["Operator", "Temp_C"] if extra else []
    )
    names = [n.upper() if upper else n for n in names]
    q = (lambda f: f'"{f}"') if quote else (lambda f: f)
    lines = [delimiter.join(q(n) for n in names)]
    for dev, pulse, r in ROWS:
        fields = [dev, str(pulse), f"{r:.6e}" if sci else repr(r)]
        fields += ["Jane; Doe, PhD", "25.0"] if extra else []
        lines.append(
            delimiter.join(f'"{f}"' if quote or "," in f or ";" in f else f for f in fields)
        )
    return ("\r\n" if crlf else "\n").join(lines) + "\n"


@given(delimiter=hs.sampled_from([",", ";", "\t"]), quote=hs.booleans(), crlf=hs.booleans(),
       upper=hs.booleans(), extra=hs.booleans(), sci=hs.booleans(), bom=hs.booleans())  # fmt: skip
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_safe_dialect_loads_the_same_data(tmp_path, delimiter, quote, crlf, upper, extra, sci,
                                                bom):  # fmt: skip
    text = _dialect_text(delimiter, quote, crlf, upper, extra, sci)
    m = load_pulse_trains(_write(tmp_path, text, bom=bom))
    np.testing.assert_array_equal(m.resistance_ohm, [r for _, _, r in ROWS])
    np.testing.assert_array_equal(m.pulse, [0, 1, 0, 1])
    assert m.device_names == ("d1", "d2")
    assert m.ignored_columns == (("operator", "temp_c") if extra else ())


def test_strict_rejects_extra_columns_and_typos_are_never_ignored(tmp_path):
    text = _dialect_text(",", False, False, False, True, False)
    with pytest.raises(CSVFormatError, match=r":1: column 'operator': unknown column"):
        load_pulse_trains(_write(tmp_path, text), strict=True)
    typo = "device_id,pulse_index,resistence_ohm,operator\na,0,1,x\n"
    with pytest.raises(CSVFormatError, match=r"resistence_ohm.*Did you mean 'resistance_ohm'"):
        load_pulse_trains(_write(tmp_path, typo, "typo.csv"))


def test_a_malformed_semicolon_file_keeps_its_position(tmp_path):
    text = "device_id;pulse_index;resistance_ohm\nd1;0;7000\nd1;1;7,1e3\n"  # a decimal comma
    with pytest.raises(CSVFormatError, match=r":3: column 'resistance_ohm': not a number"):
        load_pulse_trains(_write(tmp_path, text))


def test_multilevel_loader_ignores_extras_and_refuses_a_duplicated_column(tmp_path):
    from calibration.multilevel import load_multilevel

    ok = "device_id;level;conductance_s;operator\na;0;2e-5;x\nb;1;4e-5;y\n"
    data = load_multilevel(_write(tmp_path, ok))
    assert data.ignored_columns == ("operator",) and data.conductance_s.tolist() == [2e-5, 4e-5]
    with pytest.raises(CSVFormatError, match="'operator': unknown column"):
        load_multilevel(_write(tmp_path, ok, "s.csv"), strict=True)
    dup = "device_id,level,conductance_s,conductance_s\na,0,2e-5,3e-5\n"
    with pytest.raises(CSVFormatError, match="'conductance_s': column appears twice"):
        load_multilevel(_write(tmp_path, dup, "d.csv"))
