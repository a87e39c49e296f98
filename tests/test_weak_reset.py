import json

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hs

from devices import InvalidParameterError, WeakResetRRAM, mean_log_resistance, presets
from devices._state import write_state
from devices.weak_reset import kasdin_coefficients
from tests.reference import ReferenceCodeLayout, ReferenceWeakReset

P = presets.MAJUMDAR2021


def _w(pop, r):
    return np.log(r / pop.d2d_parameters["r0_ohm"].astype(np.float64))


def _w_mean(pop):
    d = pop.d2d_parameters
    return mean_log_resistance(
        pop.pulses_since_set, d["m1_per_pulse"], d["t_star_pulses"], d["c1"], d["m2_per_pulse"]
    )


# -- kernel against its slow twin ------------------------------------------------------------------


def _assert_same(pop, ref, r_kernel=None, r_ref=None):
    np.testing.assert_array_equal(pop.pulses_since_set, ref.t)
    np.testing.assert_array_equal(pop.rtn_state, ref.s)
    np.testing.assert_array_equal(pop.pink_samples(), ref.h)
    np.testing.assert_array_equal(pop.weak_reset_count, ref.weak_reset_count)
    np.testing.assert_array_equal(pop.set_count, ref.set_count)
    if r_kernel is not None:
        np.testing.assert_allclose(r_kernel, r_ref, rtol=1e-13, atol=0)


@pytest.mark.parametrize("noise", ["paper", "none", "rtn", "pink"])
def test_kernel_matches_reference_on_a_scripted_run(noise):
    # RTN probabilities raised so that flips actually happen in a short run
    params = P.__class__(**{**P.__dict__, "rtn_p_up_per_pulse": 0.2, "rtn_p_down_per_pulse": 0.3})
    pop = WeakResetRRAM(64, params=params, noise=noise, rng=3)
    ref = ReferenceWeakReset(pop)
    gen = np.random.default_rng(0)
    for step in range(40):
        if step % 4 == 0:
            n = int(gen.integers(0, 20))
        else:
            n = gen.integers(0, 40, size=64) * (gen.random(64) < 0.7)
        if step % 3 == 0:
            r = pop.pulse_and_read(n)
            ref.apply(n)
            _assert_same(pop, ref, r, ref.read())
        else:
            pop.apply_pulses(n)
            ref.apply(n)
            _assert_same(pop, ref, pop.resistance(), ref.read())
        if step == 20:
            mask = gen.random(64) < 0.3
            pop.full_set(mask)
            ref.full_set(np.flatnonzero(mask))
        if step == 30:
            idx = np.array([1, 5, 5, 9])
            pop.full_set(idx)
            ref.full_set(idx)
            _assert_same(pop, ref, pop.resistance(), ref.read())


@settings(max_examples=25, deadline=None)
@given(
    ops=hs.lists(
        hs.one_of(
            hs.tuples(hs.just("pulse"), hs.integers(0, 40)),
            hs.tuples(hs.just("read"), hs.just(0)),
            hs.tuples(hs.just("set"), hs.integers(0, 7)),
        ),
        max_size=25,
    ),
    seed=hs.integers(0, 2**32),
)
def test_kernel_matches_reference_on_random_op_sequences(ops, seed):
    pop = WeakResetRRAM(8, noise="paper", rng=seed)
    ref = ReferenceWeakReset(pop)
    for op, arg in ops:
        if op == "pulse":
            pop.apply_pulses(arg)
            ref.apply(arg)
        elif op == "set":
            pop.full_set(np.array([arg]))
            ref.full_set(np.array([arg]))
        else:
            np.testing.assert_allclose(pop.resistance(), ref.read(), rtol=1e-13)
    _assert_same(pop, ref, pop.resistance(), ref.read())


def test_pulse_and_read_equals_apply_then_read():
    a = WeakResetRRAM(500, rng=1)
    b = WeakResetRRAM(500, rng=1)
    for n in (1, 3, 0, 20):
        ra = a.pulse_and_read(n)
        b.apply_pulses(n)
        np.testing.assert_array_equal(ra, b.resistance())


def test_results_do_not_depend_on_thread_count(assert_thread_independent):
    def simulate():
        pop = WeakResetRRAM(10_001, rng=42)
        n = np.random.default_rng(0).integers(0, 16, size=10_001)
        for _ in range(5):
            pop.apply_pulses(n)
        return pop.resistance(), pop.pink_samples(), pop.rtn_state.copy()

    assert_thread_independent(simulate)


def test_same_seed_same_result_and_generator_accepted():
    a = WeakResetRRAM(100, rng=np.random.default_rng(5))
    b = WeakResetRRAM(100, rng=5)
    a.apply_pulses(7)
    b.apply_pulses(7)
    np.testing.assert_array_equal(a.resistance(), b.resistance())
    c = WeakResetRRAM(100, rng=6)
    c.apply_pulses(7)
    assert not np.array_equal(a.resistance(), c.resistance())


# -- the model's equations and statistics ----------------------------------------------------------


def test_mean_model_closed_form_without_noise():
    pop = WeakResetRRAM(2000, noise="none", rng=2)
    np.testing.assert_array_equal(pop.resistance(), pop.d2d_parameters["r0_ohm"])  # t = 0: R = R0
    done = 0
    for target in (1, 10, 100, 515, 1000, 2500):
        pop.apply_pulses(target - done)
        done = target
        np.testing.assert_allclose(_w(pop, pop.resistance()), _w_mean(pop), rtol=1e-12, atol=1e-12)
    assert pop.extrapolating.all()


def test_mean_model_is_continuous_at_the_knee():
    m1, ts, c1, m2 = 1e-3, 100.4, 0.01, 1e-5
    below = mean_log_resistance(np.nextafter(ts, 0), m1, ts, c1, m2)
    at = mean_log_resistance(ts, m1, ts, c1, m2)
    assert at == pytest.approx(below, abs=1e-12)
    assert mean_log_resistance(0, m1, ts, c1, m2) == 0.0


def test_d2d_samples_follow_the_truncated_distributions():
    pop = WeakResetRRAM(20_000, rng=7)
    for name, values in pop.d2d_parameters.items():
        dist = getattr(P, name)
        assert st.kstest(values.astype(np.float64), dist.cdf).pvalue > 1e-3, name


def test_no_d2d_puts_every_device_at_the_median():
    pop = WeakResetRRAM(10, d2d=False, rng=0)
    for name, values in pop.d2d_parameters.items():
        np.testing.assert_array_equal(values, np.float32(getattr(P, name).median()))


@pytest.mark.parametrize("k", [1, 10, 100, 1000])
def test_rtn_occupancy_after_k_pulses(k):
    n = 100_000
    pop = WeakResetRRAM(n, noise="rtn", d2d=False, rng=k)
    if k <= 10:
        for _ in range(k):
            pop.apply_pulses(1)
    else:  # also exercise the closed-form multi-pulse transition
        pop.apply_pulses(k // 2)
        pop.apply_pulses(np.full(n, k - k // 2))
    p_up, p_down = P.rtn_p_up_per_pulse, P.rtn_p_down_per_pulse
    expected = p_up / (p_up + p_down) * (1 - (1 - p_up - p_down) ** k)
    observed = pop.rtn_state.mean()
    assert abs(observed - expected) < 5 * np.sqrt(expected * (1 - expected) / n) + 1e-6


def test_rtn_amplitude_is_a_times_product_of_uniforms():
    # P(U1 U2 <= x) = x - x ln x on (0, 1]; with d2d off a = 0.25 for every device
    params = P.__class__(**{**P.__dict__, "rtn_p_up_per_pulse": 1.0, "rtn_p_down_per_pulse": 0.0})
    pop = WeakResetRRAM(50_000, params=params, noise="rtn", d2d=False, rng=9)
    pop.apply_pulses(3)
    assert pop.rtn_state.all()
    first = _w(pop, pop.resistance()) - _w_mean(pop)
    second = _w(pop, pop.resistance()) - _w_mean(pop)  # re-drawn at every read
    for x in (first / 0.25, second / 0.25):
        x = np.clip(x, 1e-300, 1.0)
        assert st.kstest(x, lambda v: v - v * np.log(v)).pvalue > 1e-3
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.02


def test_pink_noise_mean_offset_and_spread():
    pop = WeakResetRRAM(100_000, noise="pink", rng=11)
    for _ in range(20):
        pop.apply_pulses(1)
    offset = _w(pop, pop.resistance()) - _w_mean(pop)
    b = kasdin_coefficients(15)
    assert b.sum() == pytest.approx(4.334, abs=1e-3)
    mean = 0.025 * 0.5 * b.sum()
    assert mean == pytest.approx(0.0542, abs=1e-4)
    sd = 0.025 * np.sqrt((b**2).sum() / 12)
    assert offset.mean() == pytest.approx(mean, abs=5 * sd / np.sqrt(offset.size))
    assert offset.std() == pytest.approx(sd, rel=0.02)


def test_pink_buffer_fills_gradually_then_holds_15_samples():
    pop = WeakResetRRAM(1000, noise="pink", rng=12)
    pop.apply_pulses(4)
    h = pop.pink_samples()
    assert (h[:, :4] > 0).all() and (h[:, 4:] == 0).all()
    pop.apply_pulses(40)
    assert (pop.pink_samples() > 0).all()


def test_paper_mode_after_10_pulses_matches_spec_median():
    # docs/devices.md: with the equations, median ln(R/R0) after 10 pulses is 0.057
    pop = WeakResetRRAM(100_000, noise="paper", rng=13)
    for _ in range(10):
        pop.apply_pulses(1)
    assert np.median(_w(pop, pop.resistance())) == pytest.approx(0.057, abs=0.003)


# -- SET, counters, conductance ------------------------------------------------------------------


def test_full_set_returns_to_r0_and_counts():
    pop = WeakResetRRAM(100, rng=0)
    pop.apply_pulses(50)
    mask = np.zeros(100, dtype=bool)
    mask[:10] = True
    pop.full_set(mask)
    r = pop.resistance()
    np.testing.assert_array_equal(r[:10], pop.d2d_parameters["r0_ohm"][:10])
    assert (r[10:] != pop.d2d_parameters["r0_ohm"][10:]).all()
    assert pop.set_count[:10].tolist() == [1] * 10 and pop.set_count[10:].sum() == 0
    pop.apply_pulses(5)
    np.testing.assert_array_equal(pop.pulses_since_set[:10], 5)
    np.testing.assert_array_equal(pop.weak_reset_count, 55)
    np.testing.assert_array_equal(pop.pulse_count, 55 + pop.set_count)
    pop.full_set()
    np.testing.assert_array_equal(pop.resistance(), pop.d2d_parameters["r0_ohm"])
    assert pop.counters.summary()["set"]["max"] == 2


def test_reading_does_not_change_the_device_state():
    pop = WeakResetRRAM(100, rng=0)
    pop.apply_pulses(30)
    before = (
        pop.pulses_since_set.copy(),
        pop.rtn_state.copy(),
        pop.pink_samples(),
        pop.pulse_count,
    )
    pop.resistance()
    pop.conductance()
    after = (pop.pulses_since_set, pop.rtn_state, pop.pink_samples(), pop.pulse_count)
    for x, y in zip(before, after, strict=True):
        np.testing.assert_array_equal(x, y)


def test_conductance_is_reciprocal_of_resistance():
    a = WeakResetRRAM(100, noise="none", rng=0)
    a.apply_pulses(10)
    np.testing.assert_allclose(a.conductance() * a.resistance(), 1.0, rtol=1e-15)


def test_out_argument_is_filled_in_place():
    pop = WeakResetRRAM(10, rng=0)
    out = np.zeros(10)
    assert pop.resistance(out=out) is out and (out > 0).all()


def test_state_properties_are_read_only():
    pop = WeakResetRRAM(10, rng=0)
    with pytest.raises(ValueError):
        pop.pulses_since_set[0] = 5
    with pytest.raises(ValueError):
        pop.pulse_count.setflags(write=True) or pop.weak_reset_count.__setitem__(0, 3)


# -- save / load -----------------------------------------------------------------------------------


def test_save_load_resumes_bit_identically(tmp_path):
    a = WeakResetRRAM(3000, noise="paper", rng=21)
    for n in (3, 0, 17):
        a.apply_pulses(n)
    a.full_set(np.arange(0, 3000, 7))
    a.resistance()
    path = tmp_path / "state.npz"
    a.save(path)
    b = WeakResetRRAM.load(path)
    assert (b.noise, b.d2d, b.params) == (a.noise, a.d2d, a.params)
    np.testing.assert_array_equal(b.pulse_count, a.pulse_count)
    np.testing.assert_array_equal(b.set_count, a.set_count)
    for n in (1, np.arange(3000) % 5, 14):
        np.testing.assert_array_equal(a.pulse_and_read(n), b.pulse_and_read(n))
    np.testing.assert_array_equal(a.pink_samples(), b.pink_samples())


def test_kernel_matches_reference_across_blocks_of_the_1f_buffer():
    """More devices than one block of the buffer layout (the last block partly filled), each
    block's ring at its own phase after per-device pulse counts and partial SETs."""
    from devices._kernels import PINK_BLOCK

    n_dev = 2 * PINK_BLOCK + 97
    pop = WeakResetRRAM(n_dev, noise="paper", rng=8)
    ref = ReferenceWeakReset(pop)
    gen = np.random.default_rng(1)
    for step, n in enumerate([3, gen.integers(0, 4, size=n_dev), 16, 1, gen.integers(0, 3, n_dev)]):
        pop.apply_pulses(n)
        ref.apply(n)
        if step == 2:
            pop.full_set(np.arange(0, n_dev, 5))
            ref.full_set(np.arange(0, n_dev, 5))
    _assert_same(pop, ref, pop.resistance(), ref.read())


def test_load_converts_version_1_files(tmp_path):
    """Version 1 kept the 1/f buffer as a ring of 16 slots per device (slot (t - 1 - age) % 15)."""
    from devices._state import read_state, write_state

    a = WeakResetRRAM(300, noise="paper", rng=4)
    a.apply_pulses(np.arange(300) % 23)
    path = tmp_path / "v2.npz"
    a.save(path)
    arrays, meta = read_state(path, "crossbar-sim/weak-reset-state", 2)
    taps = a.params.pink_taps
    ring = np.zeros((300, 16), dtype=np.uint16)
    slots = (a.pulses_since_set[:, None].astype(np.int64) - 1 - np.arange(taps)) % taps
    filled = np.arange(taps)[None, :] < a.pulses_since_set[:, None]
    rows = np.repeat(np.arange(300)[:, None], taps, axis=1)
    ring[rows[filled], slots[filled]] = arrays["h"][filled]
    arrays["h"] = ring
    meta = {k: v for k, v in meta.items() if k not in ("format", "version")}
    write_state(tmp_path / "v1.npz", "crossbar-sim/weak-reset-state", 1, meta, arrays)
    b = WeakResetRRAM.load(tmp_path / "v1.npz")
    np.testing.assert_array_equal(b.pink_samples(), a.pink_samples())
    np.testing.assert_array_equal(b.pulse_and_read(2), a.pulse_and_read(2))


def test_save_writes_exactly_the_given_path_and_needs_no_pickle(tmp_path):
    path = tmp_path / "state.bin"
    WeakResetRRAM(5, rng=0).save(path)
    assert path.exists() and not (tmp_path / "state.bin.npz").exists()
    with np.load(path, allow_pickle=False) as z:
        assert "meta_json" in z.files


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(InvalidParameterError, match="no such state file"):
        WeakResetRRAM.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(
        InvalidParameterError, match=r"not a .crossbar-sim/weak-reset-state. state file"
    ):
        WeakResetRRAM.load(junk)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(InvalidParameterError, match="no header"):
        WeakResetRRAM.load(other)
    good = tmp_path / "good.npz"
    WeakResetRRAM(5, rng=0).save(good)
    with np.load(good) as z:
        arrays = dict(z)
    arrays["t"] = arrays["t"][:3]
    broken = tmp_path / "broken.npz"
    np.savez(broken, **arrays)
    with pytest.raises(InvalidParameterError, match="SHA-256 in the header: the file is damaged"):
        WeakResetRRAM.load(broken)
    # the same change written with a valid hash: the shape check catches it
    header = json.loads(arrays.pop("meta_json").tobytes())
    fmt, version = header.pop("format"), header.pop("version")
    header.pop("sha256")
    write_state(broken, fmt, version, header, arrays)
    with pytest.raises(InvalidParameterError, match="array 't' must be int32"):
        WeakResetRRAM.load(broken)


def _rewritten(tmp_path, change_arrays=None, change_header=None):
    """A saved population with arrays or header changed, written with a valid hash."""
    good = tmp_path / "good.npz"
    WeakResetRRAM(5, rng=0).save(good)
    with np.load(good) as z:
        arrays = dict(z)
    header = json.loads(arrays.pop("meta_json").tobytes())
    fmt, version = header.pop("format"), header.pop("version")
    header.pop("sha256")
    if change_arrays:
        change_arrays(arrays)
    if change_header:
        change_header(header)
    path = tmp_path / "changed.npz"
    write_state(path, fmt, version, header, arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "header", "match"),
    [
        (lambda a: a["d2d_r0_ohm"].__setitem__(0, np.nan), None, "'d2d_r0_ohm' holds non-finite"),
        (lambda a: a["count_set"].__setitem__(1, -5), None, "non-negative integers"),
        (None, lambda h: h.pop("n_devices"), "damaged state file .KeyError"),
        (None, lambda h: h.__setitem__("seed", "abc"), "damaged state file .ValueError"),
        (None, lambda h: h.__setitem__("params", 3), "damaged state file"),
    ],
)
def test_load_rejects_tampered_values_with_one_error(tmp_path, arrays, header, match):
    path = _rewritten(tmp_path, arrays, header)
    with pytest.raises(InvalidParameterError, match=match):
        WeakResetRRAM.load(path)


@pytest.mark.parametrize("cut", [10, 100, 1000, -50])
def test_load_of_a_truncated_file_is_one_error(tmp_path, cut):
    path = tmp_path / "s.npz"
    WeakResetRRAM(50, rng=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(InvalidParameterError, match=r"s\.npz"):
        WeakResetRRAM.load(path)


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(n_devices=0), "'n_devices'.*int in \\[1"),
        (dict(n_devices=2.0), "'n_devices'"),
        (dict(n_devices=True), "'n_devices'"),
        (dict(n_devices=10, noise="papr"), "'noise'.*Did you mean 'paper'"),
        (dict(n_devices=10, noise=None), "'noise'"),
        (dict(n_devices=10, params="MAJUMDAR2012"), "Did you mean 'MAJUMDAR2021'"),
        (dict(n_devices=10, params=3), "'params'"),
        (dict(n_devices=10, d2d="yes"), "'d2d'"),
        (dict(n_devices=10, rng=-1), "'rng'"),
        (dict(n_devices=10, rng="seed"), "'rng'"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        WeakResetRRAM(**kwargs)


@pytest.mark.parametrize(
    "n,match",
    [
        (-1, "non-negative integer"),
        (2.5, "non-negative integer"),
        (float("nan"), "non-negative integer"),
        (True, "non-negative integer"),
        ("3", "non-negative integer"),
        (2**31, "<= 2147483647"),
        (np.ones(4, dtype=int), "shape \\(5,\\).*shape \\(4,\\)"),
        (np.ones((5, 1), dtype=int), "shape \\(5, 1\\)"),
        (np.array([1, 2, -3, 0, 1]), "Got -3 at index 2"),
        (np.array([1, 2, 0.5, 0, 1]), "Got 0.5 at index 2"),
        (np.array([1, 2, np.nan, 0, 1]), "Got nan at index 2"),
        (np.array([True] * 5), "integer array. Got dtype bool"),
        (np.array(["1"] * 5), "integer array"),
    ],
)
def test_apply_pulses_rejects_bad_counts(n, match):
    pop = WeakResetRRAM(5, rng=0)
    before = pop.pulses_since_set.copy()
    with pytest.raises(InvalidParameterError, match=match):
        pop.apply_pulses(n)
    np.testing.assert_array_equal(pop.pulses_since_set, before)  # nothing applied


def test_apply_pulses_accepts_integral_floats_and_numpy_ints():
    pop = WeakResetRRAM(3, rng=0)
    pop.apply_pulses(2.0)
    pop.apply_pulses(np.int16(1))
    pop.apply_pulses(np.array([1.0, 0.0, 2.0]))
    pop.apply_pulses(np.array([1, 1, 1], dtype=np.uint8))
    assert pop.pulses_since_set.tolist() == [5, 4, 6]


def test_pulse_count_overflow_is_refused():
    pop = WeakResetRRAM(2, noise="none", rng=0)
    pop.apply_pulses(2**31 - 10)
    with pytest.raises(InvalidParameterError, match="int32"):
        pop.apply_pulses(20)
    pop.full_set()
    pop.apply_pulses(20)


@pytest.mark.parametrize(
    "out,match",
    [
        (np.zeros(4), "shape \\(5,\\)"),
        (np.zeros(5, dtype=np.float32), "float32"),
        (np.zeros(10)[::2], "contiguous"),
        ([0.0] * 5, "'out'"),
    ],
)
def test_resistance_rejects_bad_out(out, match):
    with pytest.raises(InvalidParameterError, match=match):
        WeakResetRRAM(5, rng=0).resistance(out=out)


@pytest.mark.parametrize(
    "devices,match",
    [
        (np.array([True, False]), "bool mask of shape \\(5,\\)"),
        (np.array([0, 5]), "indices in \\[0, 4\\]"),
        (np.array([-1]), "indices in \\[0, 4\\]"),
        (np.array([0.5]), "1-D integer array"),
        (np.array([[0]]), "1-D integer array"),
    ],
)
def test_full_set_rejects_bad_selection(devices, match):
    with pytest.raises(InvalidParameterError, match=match):
        WeakResetRRAM(5, rng=0).full_set(devices)


# -- the released code's state layout (docs/devices.md) ---------------------------------------------


def test_code_layout_matches_literal_twin():
    params = P.__class__(**{**P.__dict__, "rtn_p_up_per_pulse": 0.2, "rtn_p_down_per_pulse": 0.3})
    pop = WeakResetRRAM(40, params=params, noise="code", rng=5)
    assert pop.noise == "code_layout"
    ref = ReferenceCodeLayout(pop)
    gen = np.random.default_rng(1)
    for _ in range(30):
        n = gen.integers(0, 15, size=40) * (gen.random(40) < 0.5)
        pop.apply_pulses(n)
        ref.step(n)
        np.testing.assert_array_equal(pop.pulses_since_set, ref.state[:, 16])
        np.testing.assert_array_equal(pop.pink_samples(), ref.state[:, 1:16])
        np.testing.assert_allclose(pop.resistance(), ref.read(), rtol=1e-6)


def test_code_layout_reproduces_spec_deviation():
    # docs/devices.md: after 10 pulses the code's median ln(R/R0) is 0.093 (equations: 0.057); RTN is
    # almost always on after ~8 pulses; 0-pulse steps still change R.
    pop = WeakResetRRAM(100_000, noise="code_layout", rng=17)
    for _ in range(10):
        pop.apply_pulses(1)
    w = _w(pop, pop.resistance())
    assert np.median(w) == pytest.approx(0.093, abs=0.004)
    assert pop.rtn_state.mean() > 0.95
    np.testing.assert_array_equal(pop.resistance(), pop.resistance())  # reads draw nothing
    before = pop.resistance()
    pop.apply_pulses(0)
    assert (pop.resistance() != before).mean() > 0.9
    np.testing.assert_array_equal(pop.pulses_since_set, 10)


def test_code_layout_save_load_and_many_pulses(tmp_path):
    pop = WeakResetRRAM(50, noise="code_layout", rng=3)
    pop.apply_pulses(40)  # more than the buffer: every sample fresh
    assert (pop.pink_samples() > 0).all()
    pop.save(tmp_path / "s.npz")
    other = WeakResetRRAM.load(tmp_path / "s.npz")
    for n in (0, 3, 7):
        np.testing.assert_array_equal(pop.pulse_and_read(n), other.pulse_and_read(n))
    pop.full_set()
    np.testing.assert_array_equal(pop.resistance(), pop.d2d_parameters["r0_ohm"])


def test_optional_wear_out_sticks_devices_past_their_limit():
    from devices import TruncatedDistribution, WearOutParams

    wear = WearOutParams(TruncatedDistribution("uniform", 5.0, 20.0), stuck_lrs_probability=0.5)
    pop = WeakResetRRAM(2000, noise="none", rng=1, wear_out=wear)
    for _ in range(30):
        r = pop.pulse_and_read(1)
        np.testing.assert_array_equal(pop.failed, pop.pulse_count > pop.wear.limit)
    lrs = pop.wear.stuck_lrs_on_failure
    failed = pop.failed
    np.testing.assert_array_equal(r[failed & lrs], pop.d2d_parameters["r0_ohm"][failed & lrs])
    np.testing.assert_array_equal(r[failed & ~lrs], P.hrs_ohm)
    assert not WeakResetRRAM(10, rng=0).failed.any()
    with pytest.raises(InvalidParameterError, match="'wear_out'"):
        WeakResetRRAM(10, wear_out=3)


def test_wear_out_survives_save_load(tmp_path):
    from devices import WearOutParams

    pop = WeakResetRRAM(100, rng=2, wear_out=WearOutParams())
    pop.apply_pulses(3)
    pop.save(tmp_path / "w.npz")
    other = WeakResetRRAM.load(tmp_path / "w.npz")
    np.testing.assert_array_equal(other.wear.limit, pop.wear.limit)
    np.testing.assert_array_equal(other.pulse_and_read(2), pop.pulse_and_read(2))
