import copy
import math

import numpy as np
import pytest
import torch

from crossbar.optim import MetaplasticAdam
from devices import InvalidParameterError
from tests import reference


@pytest.mark.parametrize("meta", [0.0, 1.35, 4.0])
def test_matches_hand_computed_steps(meta):
    w0 = [0.3, -0.8, 0.05, -0.02, 1.5]
    grads = [[0.1, -0.2, 0.3, 0.05, -1.0], [0.2, 0.1, -0.4, -0.3, 0.5], [-0.1, 0.3, 0.2, 0.1, 0.2]]
    p = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    opt = MetaplasticAdam([p], lr=0.05, meta=meta, weight_decay=1e-3)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    expected = reference.metaplastic_adam(w0, grads, 0.05, meta, wd=1e-3)
    torch.testing.assert_close(p.detach(), torch.tensor(expected, dtype=torch.float64))


def test_meta_zero_is_adam():
    torch.manual_seed(0)
    a = torch.randn(20, 10, dtype=torch.float64, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    opt_a = MetaplasticAdam([a], lr=0.01, meta=0.0, eps=0.0)
    opt_b = torch.optim.Adam([b], lr=0.01, eps=0.0)
    for _ in range(5):
        g = torch.randn(20, 10, dtype=torch.float64)
        a.grad, b.grad = g.clone(), g.clone()
        opt_a.step()
        opt_b.step()
    torch.testing.assert_close(a, b)


def test_attenuates_only_updates_toward_zero():
    p = torch.tensor([2.0, 2.0], requires_grad=True)
    opt = MetaplasticAdam([p], lr=0.1, meta=2.0)
    p.grad = torch.tensor([1.0, -1.0])  # first pushes 2.0 toward 0, second away from 0
    opt.step()
    moved = (torch.tensor([2.0, 2.0]) - p.detach()).abs()
    # Adam's first step moves every weight by lr; the toward-zero one by lr * (1 - tanh^2(m |W|))
    assert moved[1].item() == pytest.approx(0.1, rel=1e-4)
    assert moved[0].item() == pytest.approx(0.1 * (1 - math.tanh(4.0) ** 2), rel=1e-3)


def test_param_groups_and_state_dict_round_trip():
    torch.manual_seed(1)
    w, bn = torch.randn(4, 3, requires_grad=True), torch.randn(3, requires_grad=True)
    opt = MetaplasticAdam([{"params": [w]}, {"params": [bn], "meta": 0.0}], lr=0.01, meta=1.5)
    for _ in range(2):
        w.grad, bn.grad = torch.randn(4, 3), torch.randn(3)
        opt.step()
    saved = copy.deepcopy(opt.state_dict())  # as if written to disk
    w2, bn2 = w.detach().clone().requires_grad_(True), bn.detach().clone().requires_grad_(True)
    opt2 = MetaplasticAdam([{"params": [w2]}, {"params": [bn2], "meta": 0.0}], lr=0.01, meta=1.5)
    opt2.load_state_dict(saved)
    g1, g2 = torch.randn(4, 3), torch.randn(3)
    w.grad, bn.grad, w2.grad, bn2.grad = g1, g2, g1.clone(), g2.clone()
    opt.step()
    opt2.step()
    torch.testing.assert_close(w, w2)
    torch.testing.assert_close(bn, bn2)
    assert opt2.param_groups[1]["meta"] == 0.0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(meta=-0.5), "'meta'.*>= 0"),
        (dict(lr=-1.0), "'lr'"),
        (dict(lr=float("nan")), "'lr'"),
        (dict(betas=(0.9, 1.0)), "'betas'"),
        (dict(betas=(0.9,)), "'betas'"),
        (dict(eps=-1e-8), "'eps'"),
        (dict(weight_decay=-1.0), "'weight_decay'"),
    ],
)
def test_bad_hyper_parameters_are_rejected(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        MetaplasticAdam([torch.zeros(2, requires_grad=True)], **kwargs)


def test_bad_group_meta_is_rejected():
    with pytest.raises(InvalidParameterError, match="'meta'"):
        MetaplasticAdam([{"params": [torch.zeros(2, requires_grad=True)], "meta": -1.0}])


@pytest.mark.parametrize("mode", ["toward_zero", "any_crossing"])
def test_multilevel_factor_matches_hand_enumeration(mode):
    from crossbar.optim import multilevel_meta_factor

    q = [-1.5, -0.5, 0.5, 1.5]
    gen = torch.Generator().manual_seed(0)
    w = torch.rand(400, generator=gen, dtype=torch.float64) * 5 - 2.5
    delta = torch.randn(400, generator=gen, dtype=torch.float64)
    got = multilevel_meta_factor(w, delta, torch.tensor(q), 2.0, mode, rule="interval")
    expected = [
        reference.interval_meta_factor(float(a), float(b), q, 2.0, mode)
        for a, b in zip(w, delta, strict=True)
    ]
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


def _normalized_by_hand(w, delta, q, meta, mode):
    """The "normalized" rule for one scalar: x = w / max|q|; toward_zero attenuates the updates
    that decrease |w|, any_crossing all but those heading out of the two outer intervals."""
    if mode == "toward_zero":
        attenuated = (w > 0 and delta < 0) or (w < 0 and delta > 0)
    else:
        lowest, highest = (q[0] + q[1]) / 2, (q[-2] + q[-1]) / 2
        attenuated = not ((w >= highest and delta > 0) or (w < lowest and delta < 0))
    x = abs(w) / max(abs(v) for v in q)
    return 1 - math.tanh(meta * x) ** 2 if attenuated else 1.0


@pytest.mark.parametrize("mode", ["toward_zero", "any_crossing"])
@pytest.mark.parametrize("q", [[-1.5, -0.5, 0.5, 1.5], [-0.04, -0.01, 0.0, 0.02, 0.03]])
def test_normalized_factor_matches_hand_computation(mode, q):
    from crossbar.optim import multilevel_meta_factor

    gen = torch.Generator().manual_seed(1)
    w = (torch.rand(400, generator=gen, dtype=torch.float64) * 2 - 1) * 2 * max(map(abs, q))
    delta = torch.randn(400, generator=gen, dtype=torch.float64)
    got = multilevel_meta_factor(w, delta, torch.tensor(q), 2.0, mode)  # the default rule
    expected = [_normalized_by_hand(float(a), float(b), q, 2.0, mode)
                for a, b in zip(w, delta, strict=True)]  # fmt: skip
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))
    assert (got < 0.5).any() and (got == 1).any()


@pytest.mark.parametrize("rule", ["normalized", "interval"])
@pytest.mark.parametrize("mode", ["toward_zero", "any_crossing"])
def test_two_level_rules_are_the_binary_rule_in_the_fused_and_tensor_paths(monkeypatch, rule,
                                                                           mode):  # fmt: skip
    """Levels ±1: every variant of the multi-level rule is Laborieux's binary rule, step for
    step (float64, tensor path and fused kernel)."""
    from crossbar import optim

    gen = torch.Generator().manual_seed(5)
    w0 = torch.rand(2000, generator=gen, dtype=torch.float64) * 3 - 1.5
    grads = [torch.randn(2000, generator=gen, dtype=torch.float64) for _ in range(5)]

    def run(group, fused):
        if not fused:
            monkeypatch.setattr(optim, "_fused_step", lambda *a: False)
        w = w0.clone().requires_grad_(True)
        opt = MetaplasticAdam([{"params": [w], **group}], lr=0.05, meta=1.35)
        for g in grads:
            w.grad = g.clone()
            opt.step()
        monkeypatch.undo()
        return w.detach()

    binary = run({}, fused=False)
    levels = {"levels": [-1.0, 1.0], "meta_rule": rule, "meta_mode": mode}
    torch.testing.assert_close(run(levels, fused=False), binary, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(run(levels, fused=True), binary, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("meta", [0.0, 2.0])
def test_normalized_rule_does_not_depend_on_the_weight_range(meta):
    """Weights and levels scaled by 4 (a power of two: every operation scales exactly) follow
    the same trajectory scaled by 4, for the same gradients: lr is a fraction of the range."""
    gen = torch.Generator().manual_seed(2)
    levels = torch.linspace(-1.0, 1.0, 15, dtype=torch.float64) / 28.0
    w0 = (torch.rand(3000, generator=gen, dtype=torch.float64) * 2 - 1) / 28.0
    grads = [torch.randn(3000, generator=gen, dtype=torch.float64) for _ in range(30)]
    out = []
    for scale in (1.0, 4.0):
        w = (w0 * scale).requires_grad_(True)
        opt = MetaplasticAdam([{"params": [w], "levels": levels * scale, "meta": meta}],
                              lr=0.005)  # fmt: skip
        for g in grads:
            w.grad = g.clone()
            opt.step()
        out.append(w.detach())
    assert torch.equal(out[1], 4.0 * out[0])
    # the step is lr times the range: 30 steps of at most ~lr * Q_max each
    assert float((out[0] - w0).abs().max()) < 30 * 0.005 / 28.0 * 1.5


@pytest.mark.parametrize("meta", [0.0, 2.0])
def test_normalized_rule_consolidates_after_about_one_over_m_star_of_the_range(meta):
    """A weight pushed outward for 200 steps (to |x| ~ 1, x = w / Q_max), then back for 200:
    without metaplasticity it returns to about 0 (Adam's momentum lags the reversal by ~0.09);
    with m* = 2 it comes back less than half the way.
    The number of levels plays no part (same trajectory for 3, 8 and 32 levels per device)."""
    paths = {}
    for k in (3, 8, 32):
        levels = torch.linspace(-1.0, 1.0, 2 * k - 1, dtype=torch.float64) * 0.03
        w = torch.tensor([0.0], dtype=torch.float64, requires_grad=True)
        opt = MetaplasticAdam([{"params": [w], "levels": levels, "meta": meta}], lr=0.005)
        for sign in (-1.0, 1.0):
            for _ in range(200):
                w.grad = torch.tensor([sign], dtype=torch.float64)
                opt.step()
            paths.setdefault(k, []).append(float(w.detach()) / 0.03)
    assert paths[3] == paths[8] == paths[32]
    top, end = paths[3]
    assert top == pytest.approx(1.0, rel=0.02)  # Adam's step ~ lr in units of the range
    if meta == 0:
        assert abs(end) < 0.12 * top
    else:
        assert 0.5 * top < end < top


@pytest.mark.parametrize(
    "group,match",
    [
        ({"levels": [1.0]}, "K >= 2"),
        ({"levels": [1.0, 0.0]}, "strictly increasing"),
        ({"meta_mode": "toward"}, "Did you mean 'toward_zero'"),
        ({"meta_rule": "normalised"}, "'meta_rule'.*Did you mean 'normalized'"),
    ],
)
def test_bad_multilevel_groups_are_rejected(group, match):
    with pytest.raises(InvalidParameterError, match=match):
        MetaplasticAdam([{"params": [torch.zeros(2, requires_grad=True)], **group}])


@pytest.mark.parametrize("mode", ["toward_zero", "any_crossing"])
def test_numba_and_torch_paths_of_the_factor_agree(mode):
    from crossbar import optim

    q = torch.linspace(-1.0, 1.0, 15, dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    w = torch.rand(1000, generator=gen, dtype=torch.float64) * 3 - 1.5
    delta = torch.randn(1000, generator=gen, dtype=torch.float64)
    # include weights exactly on thresholds and levels (fixed-point hidden weights land there)
    w = torch.cat([w, (q[1:] + q[:-1]) / 2, q])
    delta = torch.cat(
        [delta, torch.ones(14, dtype=torch.float64), -torch.ones(15, dtype=torch.float64)]
    )
    fast = optim.multilevel_meta_factor(w, delta, q, 3.0, mode, "interval")  # the numba kernel
    slow = optim._factor_torch(w, delta, q, 3.0, mode)  # the tensor-op version (CUDA path)
    torch.testing.assert_close(fast, slow)


def test_mesu_matches_hand_computed_step():
    from crossbar.optim import MESU

    mu = torch.tensor([0.5, -0.2], dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor([0.1, 0.3], dtype=torch.float64, requires_grad=True)
    opt = MESU([mu, sigma], sigma_prior=0.5, mu_prior=0.1, n_memory=100.0)
    mu.grad = torch.tensor([2.0, -1.0], dtype=torch.float64)
    sigma.grad = torch.tensor([0.5, 4.0], dtype=torch.float64)
    opt.step()
    s2 = torch.tensor([0.01, 0.09], dtype=torch.float64)
    exp_mu = (
        torch.tensor([0.5, -0.2], dtype=torch.float64)
        - s2 * torch.tensor([2.0, -1.0]).double()
        + s2 * (0.1 - torch.tensor([0.5, -0.2], dtype=torch.float64)) / (100 * 0.25)
    )
    exp_sigma = (
        torch.tensor([0.1, 0.3], dtype=torch.float64)
        - 0.5 * s2 * torch.tensor([0.5, 4.0]).double()
        + torch.tensor([0.1, 0.3], dtype=torch.float64) * (0.25 - s2) / (2 * 100 * 0.25)
    )
    torch.testing.assert_close(mu.detach(), exp_mu)
    torch.testing.assert_close(sigma.detach(), exp_sigma)


def test_mesu_without_data_relaxes_to_the_prior():
    from crossbar.optim import MESU

    mu = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor([0.2], dtype=torch.float64, requires_grad=True)
    opt = MESU([mu, sigma], sigma_prior=1.0, n_memory=10.0)
    for _ in range(3000):
        mu.grad = torch.zeros(1, dtype=torch.float64)
        sigma.grad = torch.zeros(1, dtype=torch.float64)
        opt.step()
    assert abs(mu.item()) < 0.05 and sigma.item() == pytest.approx(1.0, abs=0.02)


def test_mesu_learns_a_bayesian_layer_and_reduces_uncertainty():
    from crossbar.nn import BayesianLinear
    from crossbar.optim import MESU

    torch.manual_seed(0)
    layer = BayesianLinear(5, 3, samples=8, seed=1)
    opt = MESU(layer.mesu_parameters(), n_memory=1e4)
    x = torch.randn(500, 5)
    y = x[:, :3].argmax(1)
    sigma0 = layer.weight_sigma.detach().mean().item()
    losses = []
    for k in range(0, 500, 1):
        out = layer(x[k : k + 1])  # batch 1, the paper's protocol
        loss = (
            torch.nn.functional.cross_entropy(
                out.reshape(-1, 3), y[k : k + 1].repeat(8), reduction="sum"
            )
            / 8
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-100:]) < 0.8 * np.mean(losses[:100])
    assert layer.weight_sigma.detach().mean().item() < sigma0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(sigma_prior=0.0), "'sigma_prior'"),
        (dict(n_memory=-1.0), "'n_memory'"),
        (dict(mu_prior=float("nan")), "'mu_prior'"),
    ],
)
def test_mesu_rejects_bad_hyper_parameters(kwargs, match):
    from crossbar.optim import MESU

    with pytest.raises(InvalidParameterError, match=match):
        MESU([torch.zeros(2, requires_grad=True), torch.ones(2, requires_grad=True)], **kwargs)


def test_mesu_needs_pairs():
    from crossbar.optim import MESU

    with pytest.raises(InvalidParameterError, match="pairs"):
        MESU([torch.zeros(2, requires_grad=True)])
    with pytest.raises(InvalidParameterError, match="pairs"):
        MESU([torch.zeros(2, requires_grad=True), torch.ones(3, requires_grad=True)])


def test_weak_reset_adam_turns_adam_steps_into_pulses():
    from crossbar.nn import WeakResetLinear
    from crossbar.optim import WeakResetAdam

    layer = WeakResetLinear(3, 2, noise="none", d2d=False, rng=0)
    opt = WeakResetAdam([layer], lr=100.0)
    grads = [torch.tensor([[1e-3, -2e-3, 0.0], [5e-4, 1.0, -1.0]]),
             torch.tensor([[2e-3, 1e-3, 0.0], [-1e-3, 1.0, 1.0]])]  # fmt: skip
    m = torch.zeros(2, 3, dtype=torch.float64)
    v = torch.zeros(2, 3, dtype=torch.float64)
    expected_bl = np.zeros(6, dtype=np.int64)
    expected_blb = np.zeros(6, dtype=np.int64)
    for t, g in enumerate(grads, start=1):
        layer.weight.grad = g.clone()
        opt.step()
        gd = g.double()
        m = 0.9 * m + 0.1 * gd
        v = 0.999 * v + 0.001 * gd * gd
        u = -100 * (m / (1 - 0.9**t)) / ((v / (1 - 0.999**t)).sqrt() + 1e-8)
        n = torch.round(u.clamp(-14, 14)).to(torch.int64).reshape(-1).numpy()
        expected_bl += np.maximum(n, 0)
        expected_blb += np.maximum(-n, 0)
    counts = layer.devices.pulse_count
    np.testing.assert_array_equal(counts[:6], expected_bl)
    np.testing.assert_array_equal(counts[6:], expected_blb)
    diff = layer.resistance_difference()
    torch.testing.assert_close(layer.weight.detach(), torch.from_numpy(np.sign(diff)).float())
    assert (layer.devices.set_count == 0).all()  # never re-SET


def test_weak_reset_training_learns_a_separable_task():
    from crossbar.nn import WeakResetLinear
    from crossbar.optim import WeakResetAdam

    torch.manual_seed(0)
    layer = WeakResetLinear(20, 2, noise="paper", rng=1)
    opt = WeakResetAdam([layer], lr=100.0)
    teacher = torch.sign(torch.randn(2, 20))
    x = torch.sign(torch.randn(400, 20))
    y = (x @ teacher.t()).argmax(1)
    acc0 = ((x @ layer.weight.t()).argmax(1) == y).float().mean().item()
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(layer(x) / 5, y).backward()
        opt.step()
    acc = ((x @ layer.weight.t()).argmax(1) == y).float().mean().item()
    assert acc > max(acc0 + 0.2, 0.8)


def test_weak_reset_adam_rejects_bad_input():
    from crossbar.nn import WeakResetLinear
    from crossbar.optim import WeakResetAdam

    with pytest.raises(InvalidParameterError, match="'layers'"):
        WeakResetAdam([torch.nn.Linear(2, 2)])
    with pytest.raises(InvalidParameterError, match="'max_pulses'"):
        WeakResetAdam([WeakResetLinear(2, 2, rng=0)], max_pulses=0)
    with pytest.raises(InvalidParameterError, match="'lr'"):
        WeakResetAdam([WeakResetLinear(2, 2, rng=0)], lr=-1.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "group",
    [
        {"meta": 0.0},
        {"meta": 1.3},
        {"meta": 2.0, "levels": torch.linspace(-0.06, 0.06, 15)},
        {"meta": 2.0, "levels": [-0.05, -0.02, 0.0, 0.01, 0.05], "meta_mode": "any_crossing"},
        {"meta": 0.0, "levels": torch.linspace(-0.06, 0.06, 15)},
        {"meta": 2.0, "levels": torch.linspace(-0.06, 0.06, 15), "meta_rule": "interval"},
        {
            "meta": 2.0,
            "levels": [-0.05, -0.02, 0.0, 0.01, 0.05],
            "meta_mode": "any_crossing",
            "meta_rule": "interval",
        },
    ],
)
def test_fused_cpu_step_matches_the_tensor_op_path(monkeypatch, dtype, group):
    from crossbar import optim

    gen = torch.Generator().manual_seed(7)
    w0 = (torch.rand(3000, generator=gen, dtype=torch.float64) * 0.14 - 0.07).to(dtype)
    grads = [torch.randn(3000, generator=gen, dtype=torch.float64).to(dtype) for _ in range(4)]

    def run(fused: bool) -> torch.Tensor:
        if not fused:
            monkeypatch.setattr(optim, "_fused_step", lambda *a: False)
        w = w0.clone().requires_grad_(True)
        opt = MetaplasticAdam([{"params": [w], **group}], lr=0.01, weight_decay=1e-3)
        for g in grads:
            w.grad = g.clone()
            opt.step()
        monkeypatch.undo()
        return w.detach()

    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {}
    torch.testing.assert_close(run(True), run(False), **tol)


def test_fused_step_marks_the_weight_changed_so_crossbar_layers_follow():
    """The fused kernel writes through numpy views; the version counter must still move, or a
    CrossbarLinear would keep reading its old devices."""
    from crossbar.nn import CrossbarLinear

    layer = CrossbarLinear(20, 5, rng=0)
    opt = MetaplasticAdam([{"params": [layer.weight], "levels": layer.weight_levels(),
                            "meta": 1.0}], lr=0.05)  # fmt: skip
    x = torch.rand(8, 20)
    before = layer.read_weight().clone()
    version = layer.weight._version
    layer(x).sum().backward()
    opt.step()
    assert layer.weight._version > version
    layer(x)  # the forward pass re-programs the devices that changed level
    assert layer.device_writes().sum() > 0
    assert not torch.equal(layer.read_weight(), before)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mode", ["toward_zero", "any_crossing"])
def test_multilevel_factor_on_and_next_to_thresholds_matches_the_exact_tables(dtype, mode):
    """Evenly spaced levels find the interval by arithmetic (SIMD); weights on a threshold or one
    ulp beside it, where rounding could pick the neighbouring interval, must get the interval of
    the exact table search (the kernel's path for uneven levels), and in float64 the tensor
    path's. (In float32 the tensor path rounds its thresholds to float32, the kernel does not.)"""
    from crossbar._meta_kernels import multilevel_factor
    from crossbar.optim import _UNEVEN, _factor_torch, _level_edges

    for levels in (torch.linspace(-0.06, 0.06, 15, dtype=dtype),
                   torch.linspace(-0.035, 0.035, 8, dtype=dtype)):  # fmt: skip
        q64, edges, shape = _level_edges(levels)
        assert shape[0] == 1.0  # the arithmetic (SIMD) path is taken
        thr = torch.from_numpy(edges[1:-1]).to(dtype)
        w = torch.cat([thr, torch.nextafter(thr, thr + 1), torch.nextafter(thr, thr - 1),
                       levels, torch.tensor([0.0, -0.0, 1.0, -1.0], dtype=dtype)])  # fmt: skip
        w = w.repeat(2).numpy()
        delta = np.concatenate([np.ones(w.size // 2), -np.ones(w.size // 2)]).astype(w.dtype)
        got, exact = np.empty_like(w), np.empty_like(w)
        multilevel_factor(w, delta, q64, edges, shape, 2.0, mode == "any_crossing", got)
        multilevel_factor(w, delta, q64, edges, _UNEVEN, 2.0, mode == "any_crossing", exact)
        np.testing.assert_allclose(got, exact, rtol=1e-6, atol=1e-7)
        assert (got < 1).any() and (got == 1).any()
        if dtype == torch.float64:
            expected = _factor_torch(torch.from_numpy(w), torch.from_numpy(delta), levels, 2.0,
                                     mode)  # fmt: skip
            np.testing.assert_allclose(got, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_float32_attenuation_factor_matches_float64():
    """The factor 1 - tanh^2 of float32 weights is evaluated in float32 (SIMD): within 4e-7 of
    the float64 one over the whole range of exponents, 1 at 0 and vanishing far out."""
    import numba

    from crossbar._meta_kernels import _sech2, _sech2_32

    @numba.njit
    def both(a, out32, out64):
        for i in range(a.size):
            out32[i] = _sech2_32(np.float32(a[i]))
            out64[i] = _sech2(a[i])

    a = np.concatenate([-np.linspace(0.0, 120.0, 200_001), [-1e-30, -1e30]])
    out32, out64 = np.empty(a.size, np.float32), np.empty(a.size)
    both(a, out32, out64)
    assert np.max(np.abs(out32 - out64)) < 4e-7
    assert out32[0] == 1.0 and out32[-1] < 1e-36
    inside = out64 > 1e-30
    assert np.max(np.abs(out32[inside] - out64[inside]) / out64[inside]) < 4e-6


def test_weak_reset_adam_errors_name_their_owner():
    from crossbar.nn import WeakResetLinear
    from crossbar.optim import WeakResetAdam

    layer = WeakResetLinear(4, 2, rng=0)
    with pytest.raises(InvalidParameterError, match="'lr' parameter of WeakResetAdam"):
        WeakResetAdam([layer], lr=-1)
