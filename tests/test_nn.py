import numpy as np
import pytest
import torch
import torch.nn.functional as F

from crossbar import CrossbarConfig
from crossbar.nn import CrossbarLinear
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
    # 8 levels per device: the stored weights of a row take at most 15 distinct target values
    targets = layer.matrix.tiles[0][0][0].cells.target_levels
    assert len(np.unique(targets)) <= 8


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
    changed = np.flatnonzero(layer.device_writes() != before)
    assert 1 <= changed.size <= 2
    layer(torch.randn(2, 20))
    np.testing.assert_array_equal(layer.device_writes()[changed], layer.device_writes()[changed])


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
