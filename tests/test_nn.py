import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from crossbar import CrossbarConfig
from crossbar.nn import (
    CrossbarConv2d,
    CrossbarLinear,
    DeterministicBatchNorm1d,
    convert_to_crossbar,
)
from devices import InvalidParameterError


def test_ideal_layer_equals_f_linear_on_the_stored_weights():
    layer = CrossbarLinear(30, 7, config=CrossbarConfig.ideal(tile_rows=16, tile_cols=16), rng=0)
    x = torch.randn(5, 30)
    torch.testing.assert_close(layer(x), F.linear(x, layer.read_weight(), layer.bias))
    torch.testing.assert_close(layer.read_weight(), layer.weight.detach(), atol=1e-6, rtol=0)


def test_multilevel_layer_equals_f_linear_on_quantized_weights_without_noise():
    cfg = CrossbarConfig(
        read_noise=False, dac=CrossbarConfig.ideal().dac, adc=CrossbarConfig.ideal().adc
    )
    layer = CrossbarLinear(40, 6, config=cfg, rng=1)
    x = torch.randn(3, 40)
    torch.testing.assert_close(layer(x), F.linear(x, layer.read_weight(), layer.bias),
                               atol=1e-5, rtol=1e-5)  # fmt: skip
    # differential pairs of 8-level devices: the stored weights take at most 15 values, on the
    # grid of weight_levels(), even though the hidden weights are continuous
    stored = layer.matrix.effective_weight(0.0)
    grid = layer.weight_levels().numpy()
    nearest = grid[np.abs(stored[..., None] - grid).argmin(-1)]
    assert np.unique(nearest).size <= 15 < np.unique(layer.weight.detach().numpy()).size


def test_gradients_are_straight_through():
    layer = CrossbarLinear(12, 4, config=CrossbarConfig.ideal(), rng=2)
    x = torch.randn(6, 12, requires_grad=True)
    g = torch.randn(6, 4)
    layer(x).backward(g)
    w = layer.read_weight()
    torch.testing.assert_close(x.grad, g @ w)
    torch.testing.assert_close(layer.weight.grad, g.t() @ x.detach())
    torch.testing.assert_close(layer.bias.grad, g.sum(0))


def test_optimizer_steps_rewrite_only_changed_devices():
    layer = CrossbarLinear(20, 10, config=CrossbarConfig(tile_rows=16, tile_cols=16), rng=3)
    layer(torch.randn(2, 20))
    before = layer.device_writes().copy()
    with torch.no_grad():
        layer.weight[0, 0] = -layer.weight[0, 0].sign() * layer.config.weight_range
    layer(torch.randn(2, 20))  # syncs lazily
    after = layer.device_writes().copy()
    changed = np.flatnonzero(after != before)
    assert 1 <= changed.size <= 2
    layer(torch.randn(2, 20))  # no optimizer step in between: nothing is rewritten
    np.testing.assert_array_equal(layer.device_writes(), after)


def test_training_reduces_the_loss():
    torch.manual_seed(0)
    layer = CrossbarLinear(10, 3, rng=4)
    x = torch.randn(200, 10)
    y = (x[:, :3]).argmax(1)
    opt = torch.optim.Adam(layer.parameters(), lr=0.01)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(layer(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.7 * np.mean(losses[:5])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(in_features=0, out_features=3), "'in_features'"),
        (dict(in_features=3, out_features=2.5), "'out_features'"),
        (dict(in_features=3, out_features=2, config="x"), "'config'"),
        (dict(in_features=3, out_features=2, weight_range=-1.0), "'weight_range'"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        CrossbarLinear(**kwargs)


def test_wrong_input_width_is_rejected():
    with pytest.raises(InvalidParameterError, match="expects inputs with 5 features"):
        CrossbarLinear(5, 2, rng=0)(torch.randn(3, 4))


def test_state_dict_round_trip_is_bit_identical(tmp_path):
    torch.manual_seed(0)
    a = CrossbarLinear(40, 20, config=CrossbarConfig(tile_rows=16, tile_cols=16), rng=5)
    opt = torch.optim.SGD(a.parameters(), lr=0.05)
    x = torch.randn(8, 40)
    a(x).sum().backward()
    opt.step()
    a(x)  # syncs the devices and advances the noise stream
    torch.save(a.state_dict(), tmp_path / "layer.pt")
    b = CrossbarLinear(40, 20, config=CrossbarConfig(tile_rows=16, tile_cols=16), rng=99)
    b.load_state_dict(torch.load(tmp_path / "layer.pt", weights_only=True))
    writes = b.device_writes().copy()
    np.testing.assert_array_equal(writes, a.device_writes())
    torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)
    np.testing.assert_array_equal(b.device_writes(), writes)  # loading wrote nothing


def test_state_of_another_shape_is_rejected():
    a = CrossbarLinear(10, 4, rng=0)
    b = CrossbarLinear(12, 4, rng=0)
    state = a.state_dict()
    with pytest.raises(Exception, match=r"size mismatch|matrix"):
        b.load_state_dict(state)
    with pytest.raises(InvalidParameterError, match="format"):
        b.set_extra_state({"format": "other"})


def _state_with(change):
    a = CrossbarLinear(20, 6, config=CrossbarConfig(tile_rows=16, tile_cols=16), rng=3)
    a(torch.randn(4, 20))
    state = a.get_extra_state()
    change(state)
    return state


def _rehash(state):
    from crossbar.nn import _state_digest

    state["sha256"] = _state_digest(
        state["meta"], {k: v.numpy() for k, v in state["arrays"].items()}
    )


def _flip_a_byte(state):
    g = next(k for k in state["arrays"] if k.endswith(".g"))
    state["arrays"][g] = state["arrays"][g].clone()
    state["arrays"][g].view(torch.uint8)[3] ^= 1


def _cut_levels(state):
    key = next(k for k in state["arrays"] if k.endswith(".levels"))
    state["arrays"][key] = state["arrays"][key][:3].clone()
    _rehash(state)


def _bad_conductance(value):
    def change(state):
        g = next(k for k in state["arrays"] if k.endswith(".g"))
        state["arrays"][g] = state["arrays"][g].clone()
        state["arrays"][g][0] = value
        _rehash(state)

    return change


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (_flip_a_byte, "SHA-256"),
        (lambda s: s.__setitem__("version", 99), "version 99"),
        (_cut_levels, "conductance levels|levels"),
        (_bad_conductance(float("nan")), "non-finite"),
        (_bad_conductance(-1e-5), ">= 0"),
        (lambda s: (s.__setitem__("meta", "{"), _rehash(s)), "damaged"),
        (lambda s: s.__setitem__("meta", 5), "damaged|SHA-256"),
    ],
)
def test_a_tampered_device_state_is_refused_with_one_error(change, match):
    b = CrossbarLinear(20, 6, config=CrossbarConfig(tile_rows=16, tile_cols=16), rng=9)
    with pytest.raises(InvalidParameterError, match=match):
        b.set_extra_state(_state_with(change))


def test_from_linear_to_linear_round_trip_and_single_programming():
    lin = torch.nn.Linear(30, 9)
    layer = CrossbarLinear.from_linear(lin, rng=1)
    back = layer.to_linear()
    torch.testing.assert_close(back.weight, lin.weight)
    torch.testing.assert_close(back.bias, lin.bias)
    # every device was programmed once (one program-and-verify), not twice
    sets = np.concatenate([a.cells.set_count for a in layer.matrix.arrays])
    verify = np.concatenate([a.cells.verify_count for a in layer.matrix.arrays])
    np.testing.assert_array_equal(sets, verify)
    assert layer.to_linear(stored=True).weight.shape == (9, 30)


def test_conv2d_equals_torch_conv_with_ideal_devices():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 5, 3, stride=2, padding=1)
    layer = CrossbarConv2d.from_conv2d(conv, config=CrossbarConfig.ideal(), rng=0)
    x = torch.randn(2, 3, 9, 8)
    torch.testing.assert_close(layer(x), conv(x), atol=1e-5, rtol=1e-5)
    layer(x).sum().backward()
    assert layer.core.weight.grad.shape == (5, 27)


def test_convert_to_crossbar_with_filter():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.Flatten(),
                                torch.nn.Linear(2 * 4 * 4, 8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 3))  # fmt: skip
    x = torch.randn(4, 1, 6, 6)
    ref = model(x)
    convert_to_crossbar(model, CrossbarConfig.ideal(), filter_fn=lambda m, name: name != "4")
    assert isinstance(model[0], CrossbarConv2d) and isinstance(model[2], CrossbarLinear)
    assert type(model[4]) is torch.nn.Linear
    torch.testing.assert_close(model(x), ref, atol=1e-5, rtol=1e-5)


def test_conversion_rejects_bad_input():
    with pytest.raises(InvalidParameterError, match=r"nn\.Linear"):
        CrossbarLinear.from_linear(torch.nn.Conv2d(1, 1, 1))
    with pytest.raises(InvalidParameterError, match="groups=1"):
        CrossbarConv2d.from_conv2d(torch.nn.Conv2d(2, 2, 1, groups=2))
    with pytest.raises(InvalidParameterError, match="'weight'"):
        CrossbarLinear(3, 2, weight=torch.zeros(2, 4))
    with pytest.raises(InvalidParameterError, match="\\(N, 3, H, W\\)"):
        CrossbarConv2d(3, 2, 3, config=CrossbarConfig.ideal())(torch.randn(1, 2, 5, 5))


def test_weight_levels_are_the_values_stored_weights_take():
    layer = CrossbarLinear(20, 6, config=CrossbarConfig(read_noise=False), rng=0)
    q = layer.weight_levels()
    assert q.numel() == 15 and torch.all(q[1:] > q[:-1])
    torch.testing.assert_close(q, -q.flip(0))
    assert q[-1].item() == pytest.approx(layer.config.weight_range)
    assert CrossbarLinear(4, 2, config=CrossbarConfig.ideal()).weight_levels() is None


def test_bayesian_linear_samples_shape_and_spread():
    from crossbar.nn import BayesianLinear

    layer = BayesianLinear(4, 3, samples=5, seed=0)
    out = layer(torch.randn(7, 4))
    assert out.shape == (5, 7, 3)
    assert out.std(dim=0).mean() > 0  # samples differ
    with pytest.raises(InvalidParameterError, match="'samples'"):
        BayesianLinear(4, 3, samples=0)
    with pytest.raises(InvalidParameterError, match="'sampling'"):
        BayesianLinear(4, 3, sampling="exact")
    with pytest.raises(InvalidParameterError, match="inputs of shape"):
        layer(torch.randn(3, 7, 4))  # 3 samples for a 5-sample layer
    chained = BayesianLinear(3, 2, samples=5, seed=1)(out)  # sample s feeds sample s
    assert chained.shape == (5, 7, 2)


def test_local_reparameterization_has_the_same_output_distribution_for_one_input():
    from scipy import stats

    from crossbar.nn import BayesianLinear

    x = torch.randn(1, 6)
    outs = {}
    for sampling in ("weights", "local"):
        layer = BayesianLinear(6, 2, samples=20000, seed=3, sampling=sampling)
        with torch.no_grad():
            layer.weight_sigma.mul_(torch.linspace(0.5, 2.0, 12).reshape(2, 6))
            outs[sampling] = layer(x)[:, 0, :].numpy()
    for j in range(2):
        assert stats.ks_2samp(outs["weights"][:, j], outs["local"][:, j]).pvalue > 0.01


def test_loading_weights_without_device_state_reprograms_the_devices():
    # weight_range is fixed at construction; it must cover the loaded weights (|w| <= 1/sqrt(6))
    c = CrossbarLinear(6, 5, config=CrossbarConfig.ideal(), weight_range=0.5, rng=0)
    torch.manual_seed(1)
    lin = torch.nn.Linear(6, 5)
    c.load_state_dict(lin.state_dict(), strict=False)
    x = torch.randn(3, 6)
    torch.testing.assert_close(c(x), F.linear(x, c.weight, c.bias), atol=1e-5, rtol=1e-5)


def test_zero_weights_convert_and_data_edits_need_sync():
    lin = torch.nn.Linear(4, 3)
    torch.nn.init.zeros_(lin.weight)
    layer = CrossbarLinear.from_linear(lin, config=CrossbarConfig.ideal())
    assert layer.config.weight_range == 1.0
    layer.weight.data.fill_(0.5)
    layer.sync()
    x = torch.randn(2, 4)
    torch.testing.assert_close(
        layer(x), F.linear(x, layer.weight, layer.bias), atol=1e-5, rtol=1e-5
    )


def test_convert_handles_a_bare_layer_shared_modules_and_same_padding():
    single = convert_to_crossbar(torch.nn.Linear(3, 2), CrossbarConfig.ideal())
    assert isinstance(single, CrossbarLinear)
    shared = torch.nn.Linear(4, 4)
    model = torch.nn.Sequential(shared, torch.nn.ReLU(), shared)
    x = torch.randn(2, 4)
    ref = model(x)
    convert_to_crossbar(model, CrossbarConfig.ideal())
    assert model[0] is model[2] and isinstance(model[0], CrossbarLinear)
    torch.testing.assert_close(model(x), ref, atol=1e-5, rtol=1e-5)
    conv = torch.nn.Conv2d(2, 3, 3, padding="same")
    xc = torch.randn(1, 2, 6, 5)
    torch.testing.assert_close(CrossbarConv2d.from_conv2d(conv, CrossbarConfig.ideal())(xc), conv(xc),
                               atol=1e-5, rtol=1e-5)  # fmt: skip
    with pytest.raises(InvalidParameterError, match="same"):
        CrossbarConv2d.from_conv2d(torch.nn.Conv2d(1, 1, 2, padding="same"))


def test_reference_mapping_levels_stay_within_the_weight_range():
    layer = CrossbarLinear(8, 4, config=CrossbarConfig(mapping="reference"), rng=0)
    q = layer.weight_levels()
    assert q.abs().max().item() <= layer.config.weight_range * (1 + 1e-9)
    assert q.numel() == 7  # 3 levels below the reference, the reference, 3 above


def test_exact_product_shortcut_matches_the_simulated_read_and_counts_reads():
    cfg = CrossbarConfig.ideal(tile_rows=16, tile_cols=16)
    layer = CrossbarLinear(30, 7, config=cfg, rng=0)
    assert layer.matrix.is_exact_product
    x = torch.randn(5, 30)
    simulated = torch.from_numpy(layer.matrix.matvec(x.double().numpy())).float() + layer.bias
    torch.testing.assert_close(layer(x), simulated, atol=1e-5, rtol=1e-5)
    assert all(a.read_count == 10 for a in layer.matrix.arrays)
    assert not CrossbarLinear(4, 2, rng=0).matrix.is_exact_product


@pytest.mark.parametrize("channels", [1, 63, 64, 65, 130])
@pytest.mark.parametrize("affine", [True, False])
def test_deterministic_batch_norm_matches_torch_in_float64(channels, affine):
    gen = torch.Generator().manual_seed(channels)
    x = torch.randn(37, channels, generator=gen, dtype=torch.float64) * 3 + 2
    g = torch.randn(37, channels, generator=gen, dtype=torch.float64)
    ref = nn.BatchNorm1d(channels, affine=affine, track_running_stats=False).double()
    ours = DeterministicBatchNorm1d(channels, affine=affine, track_running_stats=False)
    if affine:
        ref.weight.data = torch.rand(channels, generator=gen, dtype=torch.float64) + 0.5
        ref.bias.data = torch.randn(channels, generator=gen, dtype=torch.float64)
        ours.load_state_dict({k: v.float() for k, v in ref.state_dict().items()})
    xr, xo = x.clone().requires_grad_(), x.float().requires_grad_()
    ref(xr).backward(g)
    y = ours(xo)
    y.backward(g.float())
    np.testing.assert_allclose(y.detach().double(), ref(x).detach(), atol=2e-6)
    np.testing.assert_allclose(xo.grad.double(), xr.grad, atol=2e-6)
    if affine:
        np.testing.assert_allclose(ours.weight.grad.double(), ref.weight.grad, atol=2e-5)
        np.testing.assert_allclose(ours.bias.grad.double(), ref.bias.grad, atol=2e-5)


def test_deterministic_batch_norm_keeps_running_statistics_as_torch():
    gen = torch.Generator().manual_seed(1)
    for momentum in (0.1, None):
        ref = nn.BatchNorm1d(70, momentum=momentum).double()
        ours = DeterministicBatchNorm1d(70, momentum=momentum)
        for _ in range(3):
            x = torch.randn(20, 70, generator=gen, dtype=torch.float64) * 2 + 1
            ref(x), ours(x.float())
        for name in ("running_mean", "running_var"):
            np.testing.assert_allclose(getattr(ours, name).double(), getattr(ref, name),
                                       rtol=1e-6, atol=1e-6)  # fmt: skip
        assert int(ours.num_batches_tracked) == 3
        ours.eval(), ref.eval()  # running statistics: torch's own elementwise kernel
        np.testing.assert_allclose(ours(x.float()).detach().double(), ref(x).detach(), atol=1e-5)


def test_deterministic_batch_norm_does_not_depend_on_threads(assert_thread_independent):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(100, 1024, generator=gen) * 5
    g = torch.randn(100, 1024, generator=gen)

    def simulate():
        bn = DeterministicBatchNorm1d(1024, track_running_stats=False)
        xi = x.clone().requires_grad_()
        y = bn(xi)
        y.backward(g)
        return y.detach().numpy(), xi.grad.numpy(), bn.weight.grad.numpy()

    assert_thread_independent(simulate)


def test_deterministic_batch_norm_rejects_a_wrong_width():
    with pytest.raises(InvalidParameterError, match="expects 8 features"):
        DeterministicBatchNorm1d(8)(torch.ones(4, 9))
