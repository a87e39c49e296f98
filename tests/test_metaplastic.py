import numpy as np
import pytest
import torch

from crossbar import CrossbarConfig
from crossbar.metaplastic import HiddenPrecision, footprint
from crossbar.nn import CrossbarConv2d, CrossbarLinear
from crossbar.optim import MetaplasticAdam
from devices import InvalidParameterError


def test_nearest_rounding_to_fixed_point_codes():
    p = HiddenPrecision(bits=3, range=1.0)
    w = torch.tensor([0.1, 0.13, -0.3, 0.99, -2.0, 5.0])
    p.quantize_(w)
    torch.testing.assert_close(w, torch.tensor([0.0, 0.25, -0.25, 0.75, -1.0, 0.75]))
    assert p.bits_per_weight == 3 and HiddenPrecision().bits_per_weight == 32


def test_stochastic_rounding_is_unbiased():
    p = HiddenPrecision(bits=4, range=1.0, rounding="stochastic")
    w = torch.full((200_000,), 0.3, dtype=torch.float64)
    p.quantize_(w, torch.Generator().manual_seed(0))
    step = 1.0 / 8
    assert set(np.unique(w.numpy()).round(6)) == {0.25, 0.375}
    assert w.mean().item() == pytest.approx(0.3, abs=3 * step / np.sqrt(200_000))


def test_optimizer_stores_hidden_weights_at_the_precision():
    w = torch.zeros(50, requires_grad=True)
    opt = MetaplasticAdam([w], lr=0.01, meta=0.0, precision=HiddenPrecision(bits=6, range=0.5))
    w.grad = torch.randn(50)
    opt.step()
    codes = w.detach() / (0.5 / 32)
    torch.testing.assert_close(codes, codes.round())


def test_footprint_counts_bits_and_devices():
    model = torch.nn.Sequential(CrossbarLinear(20, 10, config=CrossbarConfig(tile_rows=16, tile_cols=16)),
                                CrossbarConv2d(1, 2, 3, config=CrossbarConfig.ideal()))  # fmt: skip
    f = footprint(model, HiddenPrecision(bits=8))
    assert f["hidden_weights"] == 200 + 18
    assert f["hidden_bits"] == 8 * 218 and f["hidden_bytes"] == 218
    # differential pairs: layer 1 in 2 row tiles x 1 column tile x 2 arrays; conv 1 tile x 2
    assert f["devices"] == 2 * (16 * 10 + 4 * 10) + 2 * 9 * 2
    assert footprint(model)["bytes_per_weight"] == 4


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: HiddenPrecision(bits=0), "'bits'.*\\[1, 32\\]"),
        (lambda: HiddenPrecision(bits=33), "'bits'"),
        (lambda: HiddenPrecision(range=0.0), "'range'"),
        (lambda: HiddenPrecision(rounding="stochastc"), "Did you mean 'stochastic'"),
        (lambda: MetaplasticAdam([torch.zeros(2, requires_grad=True)], precision=8), "'precision'"),
        (lambda: footprint(torch.nn.Linear(2, 2), precision="x"), "'precision'"),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()
