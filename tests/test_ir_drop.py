import numpy as np
import pytest

from crossbar.ir_drop import solve
from devices import InvalidParameterError
from tests.reference import ir_drop_direct


def _rel_err(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (7, 1), (5, 3), (32, 17), (64, 64)])
@pytest.mark.parametrize("r", [0.1, 1.0, 10.0])
def test_matches_sparse_direct_solve(shape, r):
    gen = np.random.default_rng(hash((shape, r)) % 2**32)
    G = gen.uniform(20e-6, 120e-6, shape)
    v = gen.uniform(-0.2, 0.2, (3, shape[0]))
    r_bl = r * gen.uniform(0.5, 2.0)
    ours = solve(G, v, r, r_bl)
    assert _rel_err(ours, ir_drop_direct(G, v, r, r_bl)) <= 1e-6
    assert ours.shape == (3, shape[1]) and (ours.iterations >= 1).all()


@pytest.mark.parametrize("r", [0.1, 10.0])
def test_256x256_within_1e6(r):
    gen = np.random.default_rng(int(r * 10))
    G = gen.uniform(0.0, 120e-6, (256, 256))
    v = gen.uniform(0.0, 0.2, (2, 256))
    ref = ir_drop_direct(G, v, r, r)
    assert _rel_err(solve(G, v, r, r), ref) <= 1e-6
    assert _rel_err(solve(G, v, r, r, mode="direct"), ref) <= 1e-10


def test_single_vector_and_vanishing_wires_give_ohms_law():
    gen = np.random.default_rng(1)
    G = gen.uniform(20e-6, 120e-6, (20, 30))
    v = gen.uniform(0, 0.2, 20)
    out = solve(G, v, 1e-6, 1e-6)
    assert out.shape == (30,)
    np.testing.assert_allclose(out, v @ G, rtol=1e-6)


def test_wire_resistance_lowers_the_currents_more_far_from_the_drivers():
    G = np.full((64, 64), 100e-6)
    v = np.full(64, 0.2)
    ideal = v @ G
    out = solve(G, v, 5.0, 5.0)
    loss = 1 - out / ideal
    assert (loss > 0).all() and loss[-1] > loss[0]  # far end of the word lines loses most


def test_fast_mode_is_approximate_and_reports_its_error():
    gen = np.random.default_rng(2)
    G = gen.uniform(20e-6, 120e-6, (64, 64))
    v = gen.uniform(0, 0.2, (4, 64))
    exact = ir_drop_direct(G, v, 10.0, 10.0)
    fast = solve(G, v, 10.0, 10.0, mode="fast")
    err = _rel_err(fast, exact)
    assert err < 1e-2
    assert (fast.estimated_error <= 1e-3).all()
    assert fast.iterations.max() <= solve(G, v, 10.0, 10.0).iterations.max()


def test_results_do_not_depend_on_thread_count(assert_thread_independent):
    gen = np.random.default_rng(3)
    G = gen.uniform(20e-6, 120e-6, (40, 50))
    v = gen.uniform(0, 0.2, (5, 40))
    assert_thread_independent(lambda: (np.asarray(solve(G, v, 2.0, 3.0)),))


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.ones(4), np.ones(4), 1.0, 1.0), "'G'.*2-D"),
        ((np.ones((3, 4)), np.ones(4), 1.0, 1.0), "'v'.*\\(3,\\)"),
        ((np.ones((3, 4)), np.ones((2, 5)), 1.0, 1.0), "'v'"),
        ((-np.ones((3, 4)), np.ones(3), 1.0, 1.0), "'G'.*>= 0"),
        ((np.full((3, 4), np.nan), np.ones(3), 1.0, 1.0), "'G'.*finite"),
        ((np.ones((3, 4)), np.array([1.0, np.inf, 0.0]), 1.0, 1.0), "'v'.*finite"),
        ((np.ones((3, 4)), np.ones(3), -1.0, 1.0), "'r_wl'"),
        ((np.ones((3, 4)), np.ones(3), 1.0, 0.0), "'r_bl'"),
        ((np.ones((3, 4)), np.ones(3), 1.0, float("nan")), "'r_bl'"),
    ],
)
def test_bad_input_is_rejected(args, match):
    with pytest.raises(InvalidParameterError, match=match):
        solve(*args)


def test_bad_mode_is_rejected():
    with pytest.raises(InvalidParameterError, match="'mode'"):
        solve(np.ones((2, 2)), np.ones(2), 1.0, 1.0, mode="approx")


_DIRECT_SHAPES = [(1, 1), (1, 6), (7, 1), (2, 2), (5, 3), (2, 9), (9, 2), (32, 17), (48, 64),
                  (33, 65), (70, 21)]  # fmt: skip


@pytest.mark.parametrize("shape", _DIRECT_SHAPES)
@pytest.mark.parametrize("r", [0.1, 1.0, 10.0])
def test_direct_elimination_and_transfer_matrix_match_sparse_direct_solve(shape, r):
    from crossbar.ir_drop import transfer_matrix

    gen = np.random.default_rng(hash((shape, r, 1)) % 2**32)
    G = gen.uniform(0.0, 120e-6, shape)
    v = gen.uniform(-0.2, 0.2, (4, shape[0]))
    r_bl = r * gen.uniform(0.5, 2.0)
    ref = ir_drop_direct(G, v, r, r_bl)
    direct = solve(G, v, r, r_bl, mode="direct")
    assert _rel_err(direct, ref) <= 1e-10 and (direct.iterations == 0).all()
    assert _rel_err(v @ transfer_matrix(G, r, r_bl), ref) <= 1e-10


@pytest.mark.parametrize("open_fraction", [0.5, 1.0])
def test_direct_elimination_with_open_cells(open_fraction):
    # cells of zero conductance leave word- or bit-line stretches hanging from the rest: every
    # block eliminated must still be positive definite
    gen = np.random.default_rng(7)
    G = gen.uniform(20e-6, 120e-6, (37, 23)) * (gen.random((37, 23)) >= open_fraction)
    v = gen.uniform(-0.2, 0.2, (3, 37))
    out = solve(G, v, 2.0, 0.5, mode="direct")
    if open_fraction == 1.0:
        np.testing.assert_array_equal(out, 0.0)
    else:
        assert _rel_err(out, ir_drop_direct(G, v, 2.0, 0.5)) <= 1e-10


def test_auto_mode_solves_directly_from_enough_input_vectors():
    from crossbar.ir_drop import AUTO_DIRECT_MIN_VECTORS

    gen = np.random.default_rng(8)
    G = gen.uniform(20e-6, 120e-6, (12, 10))
    few = gen.uniform(0, 0.2, (AUTO_DIRECT_MIN_VECTORS - 1, 12))
    many = gen.uniform(0, 0.2, (AUTO_DIRECT_MIN_VECTORS, 12))
    assert (solve(G, few, 1.0, 1.0).iterations >= 1).all()
    out = solve(G, many, 1.0, 1.0)
    assert (out.iterations == 0).all()
    assert _rel_err(out, ir_drop_direct(G, many, 1.0, 1.0)) <= 1e-10


def test_auto_mode_keeps_to_conjugate_gradients_when_the_direct_buffer_is_too_large(monkeypatch):
    from crossbar import ir_drop

    monkeypatch.setattr(ir_drop, "AUTO_DIRECT_MAX_BYTES", 1000)
    gen = np.random.default_rng(9)
    G = gen.uniform(20e-6, 120e-6, (12, 10))
    v = gen.uniform(0, 0.2, (ir_drop.AUTO_DIRECT_MIN_VECTORS, 12))
    assert (solve(G, v, 1.0, 1.0).iterations >= 1).all()


def test_transfer_matrix_of_vanishing_wires_is_the_conductance_matrix():
    from crossbar.ir_drop import transfer_matrix

    G = np.random.default_rng(3).uniform(20e-6, 120e-6, (9, 11))
    np.testing.assert_allclose(transfer_matrix(G, 1e-9, 1e-9), G, rtol=1e-6)


@pytest.mark.parametrize(
    "args,match",
    [
        ((np.ones(4), 1.0, 1.0), "'G'"),
        ((-np.ones((3, 4)), 1.0, 1.0), "'G'"),
        ((np.ones((3, 4)), 0.0, 1.0), "'r_wl'"),
        ((np.ones((3, 4)), 1.0, float("inf")), "'r_bl'"),
    ],
)
def test_transfer_matrix_rejects_bad_input(args, match):
    from crossbar.ir_drop import transfer_matrix

    with pytest.raises(InvalidParameterError, match=match):
        transfer_matrix(*args)
