"""The binarized layer's int8 forward and bfloat16 backward against float32 products."""

import numpy as np
import pytest
import torch

from crossbar.array import native_bfloat16
from crossbar.experiments._binary_ops import SignCodes, binary_linear, int8_codes, sign_codes
from crossbar.experiments._bnn import BinaryLinear, make_bnn
from devices import InvalidParameterError


def _pixels(rng, shape):
    return torch.from_numpy(rng.integers(0, 256, shape).astype(np.float32) / 255.0)


def test_sign_codes_match_torch_sign_on_zeros_and_odd_sizes():
    rng = np.random.default_rng(0)
    w = rng.normal(size=70_001).astype(np.float32)  # more than one parallel chunk, a ragged end
    w[:4] = [0.0, -0.0, 1e-45, -1e-45]
    codes = np.empty(w.size, np.int8)
    bits = np.empty(w.size, np.uint16)
    sign_codes(w, codes, bits)
    expected = torch.sign(torch.from_numpy(w))
    assert np.array_equal(codes, expected.numpy().astype(np.int8))
    assert torch.equal(torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16),
                       expected.bfloat16())  # fmt: skip


def test_int8_codes_recognize_signs_and_pixels_exactly():
    rng = np.random.default_rng(1)
    signs = torch.from_numpy(rng.integers(-1, 2, (5, 33)).astype(np.float32))
    c, offset, scale = int8_codes(signs)
    assert (offset, scale) == (0, 1) and torch.equal(c.float(), signs)
    pixels = _pixels(rng, (5, 33))
    pixels[0, :2] = torch.tensor([0.0, 1.0])
    c, offset, scale = int8_codes(pixels)
    assert (offset, scale) == (128, 255)
    assert torch.equal((c.float() + offset) / scale, pixels)


@pytest.mark.parametrize(
    "x",
    [
        torch.tensor([[0.5, 1.0]]),  # not a pixel code (127.5 / 255)
        torch.tensor([[2.0, 0.0]]),  # an integer outside {-1, 0, 1} and not k / 255
        torch.tensor([[-1.0 / 255.0, 0.0]]),  # a negative pixel
        torch.tensor([[float("nan"), 0.0]]),
        torch.tensor([[1.0, 0.0]], dtype=torch.float64),
        torch.tensor([[np.nextafter(np.float32(3 / 255), np.float32(1)), 0.0]]),  # 1 ulp off
    ],
)
def test_int8_codes_reject_anything_else(x):
    assert int8_codes(x) is None


@pytest.mark.parametrize("kind", ["signs", "pixels"])
def test_int8_forward_equals_the_float64_product_rounded_once(kind):
    rng = np.random.default_rng(2)
    x = (torch.from_numpy(rng.integers(-1, 2, (7, 200)).astype(np.float32)) if kind == "signs"
         else _pixels(rng, (7, 200)))  # fmt: skip
    w = torch.from_numpy(rng.normal(size=(13, 200)).astype(np.float32))
    w[0, :5] = 0.0
    y = binary_linear(x, w.requires_grad_(), SignCodes(), "int8", False)
    scale = 1.0 if kind == "signs" else 255.0
    codes = torch.round(x.double() * scale)  # the inputs' exact integers
    exact = (codes @ torch.sign(w.detach()).double().t() / scale).float()
    assert torch.equal(y, exact)


@pytest.mark.parametrize("native_bf16", [False, True])
def test_backward_products_match_float32(native_bf16):
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.integers(-1, 2, (9, 64)).astype(np.float32)).requires_grad_()
    w = torch.from_numpy(rng.normal(size=(11, 64)).astype(np.float32)).requires_grad_()
    g = torch.from_numpy(rng.normal(size=(9, 11)).astype(np.float32))
    binary_linear(x, w, SignCodes(), "auto", native_bf16).backward(g)
    x_ref = x.detach().clone().requires_grad_()
    w_ref = w.detach().clone().requires_grad_()
    (x_ref @ torch.sign(w_ref.detach()).t() + 0 * w_ref.sum()).backward(g)
    grad_w_ref = g.t() @ x_ref.detach()
    if native_bf16:
        # g rounded to bfloat16 (8 significant bits), the result rounded to bfloat16 again:
        # 2**-9 of sum |terms| each; oneDNN's blocked accumulation may add a little more
        # (seen: 1.16x the sum of both), so the bound is 2**-7 of sum |terms|
        bound = 2.0**-7 * (g.abs().t() @ x_ref.detach().abs())
        assert ((w.grad - grad_w_ref).abs() <= bound).all()
        assert not torch.equal(w.grad, grad_w_ref)  # the bfloat16 path ran
        bound_x = 2.0**-7 * (g.abs() @ torch.sign(w.detach()).abs())
        assert ((x.grad - x_ref.grad).abs() <= bound_x).all()
    else:
        torch.testing.assert_close(w.grad, grad_w_ref, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-6, atol=1e-6)


def test_changing_the_weight_between_forward_and_backward_is_an_error():
    layer = BinaryLinear(8, 4)
    out = layer(torch.ones(3, 8))
    with torch.no_grad():
        layer.weight.mul_(-1.0)
    layer(torch.ones(3, 8))  # remakes the shared sign codes
    with pytest.raises(RuntimeError, match="changed between its forward and backward"):
        out.sum().backward()


def test_arithmetics_agree_on_a_training_step():
    """Forward outputs are bit-identical for sign activations (both exact), hidden weights after
    one Adam step agree to the bfloat16 rounding of the gradients."""
    torch.manual_seed(0)
    x = _pixels(np.random.default_rng(4), (32, 784))
    y = torch.randint(0, 10, (32,))
    outs, grads = [], []
    for arithmetic in ("float32", "int8", "auto"):
        model = make_bnn([784, 64, 64, 10], seed=5)
        for m in model.modules():
            if isinstance(m, BinaryLinear):
                m.arithmetic = arithmetic
        out = model(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        outs.append(out.detach())
        grads.append(model[0].weight.grad.clone())
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)  # pixels: one rounding
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-7)
    # bfloat16 backward: three layers of 2**-9 roundings, relative to the gradient's size
    assert float((grads[2] - grads[0]).norm() / grads[0].norm()) < 0.01
    assert not torch.equal(grads[2], grads[0]) or not native_bfloat16()


def test_bad_arithmetic_is_rejected():
    with pytest.raises(InvalidParameterError, match=r"'arithmetic'.*'auto'.*Got 'fast'"):
        BinaryLinear(4, 4, arithmetic="fast")


def test_building_a_bnn_leaves_torch_global_generator_alone():
    from crossbar.experiments._bnn import BinaryLinear, make_bnn

    state = torch.get_rng_state()
    model = make_bnn([12, 16, 10], seed=7)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(7)  # the same weights as the former global seeding gave
    assert torch.equal(model[0].weight, BinaryLinear(12, 16).weight)
