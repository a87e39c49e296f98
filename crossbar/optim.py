"""Optimizers for hidden weights stored digitally beside the crossbar."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch.autograd.graph import increment_version

from devices import InvalidParameterError
from devices.support import check_choice

__all__ = ["MESU", "META_MODES", "META_RULES", "MetaplasticAdam", "WeakResetAdam",
           "multilevel_meta_factor"]  # fmt: skip

#: Attenuation modes of the multi-level rules: attenuate the updates that make the stored weight
#: smaller in magnitude, or every update that heads for a threshold (docs/training.md).
META_MODES = ("toward_zero", "any_crossing")

#: Multi-level metaplastic rules (docs/training.md): "normalized" works in units of the weight
#: range (the default), "interval" in units of the level spacing (the earlier reconstruction).
META_RULES = ("normalized", "interval")


def _check_hyper(lr: float, meta: float, betas: tuple[float, float], eps: float,
                 weight_decay: float, owner: str = "MetaplasticAdam") -> None:  # fmt: skip
    def real(x: Any) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    def _check(name: str, value: Any, ok: bool, allowed: str) -> None:
        if not ok:
            raise InvalidParameterError(
                f"The {name!r} parameter of {owner} must be {allowed}. Got {value!r} instead."
            )

    _check("lr", lr, real(lr) and lr >= 0, "a finite number >= 0")
    _check("meta", meta, real(meta) and meta >= 0, "a finite number >= 0")
    _check(
        "betas", betas,
        isinstance(betas, (tuple, list)) and len(betas) == 2
        and all(real(b) and 0 <= b < 1 for b in betas),
        "two numbers in [0, 1)",
    )  # fmt: skip
    _check("eps", eps, real(eps) and eps >= 0, "a finite number >= 0")
    _check("weight_decay", weight_decay, real(weight_decay) and weight_decay >= 0,
           "a finite number >= 0")  # fmt: skip


def multilevel_meta_factor(w: torch.Tensor, delta: torch.Tensor, levels: torch.Tensor,
                           meta: float, mode: str = "toward_zero",
                           rule: str = "normalized") -> torch.Tensor:  # fmt: skip
    """Attenuation ``M`` of the multi-level metaplastic rules (D'Agostino et al., AICAS 2023, as
    reconstructed in docs/training.md) for an update ``delta`` of the hidden weights ``w``.

    ``W_Q`` is the level nearest to ``w`` (saturating); thresholds sit halfway between levels.

    ``rule="normalized"`` (the default of :class:`MetaplasticAdam`): with ``Q_max`` the largest
    ``|level|`` and ``x = w / Q_max``,

    .. math:: M = 1 - \\tanh^2(m^* |x|)

    for the updates that decrease ``|w|`` (``mode="toward_zero"``), or for every update except
    those heading outward from the two outer intervals (``"any_crossing"``); else ``M = 1``. With
    levels ``±1`` it is the binary rule of Laborieux et al. (2021) exactly.

    ``rule="interval"`` (the earlier reconstruction): the next threshold in the update's direction
    is at distance ``d``; ``I`` is the width of the interval holding ``w`` (the level spacing for
    the two unbounded outer intervals); ``M = 1 - tanh^2(m* d / I)`` when crossing that threshold
    would decrease ``|W_Q|`` (``"toward_zero"``) or for any crossing (``"any_crossing"``), else 1.
    With two levels it is the binary rule: ``d = |w|``, ``I = 1``.
    """
    q = levels.to(w.dtype)
    if rule == "normalized":
        return _factor_normalized(w, delta, q, meta, mode)
    k = q.numel()
    if k > 2 and w.device.type == "cpu":  # one numba pass instead of a dozen tensor ops
        from ._meta_kernels import multilevel_factor

        q64, edges, shape = _level_edges(q)
        w_np = w.detach().contiguous().reshape(-1).numpy()
        out = np.empty(w_np.size, dtype=w_np.dtype)
        multilevel_factor(w_np, delta.detach().contiguous().reshape(-1).numpy(), q64, edges,
                          shape, float(meta), mode == "any_crossing", out)  # fmt: skip
        return torch.from_numpy(out).reshape(w.shape)
    return _factor_torch(w, delta, q, meta, mode)


def _factor_normalized(w: torch.Tensor, delta: torch.Tensor, q: torch.Tensor, meta: float,
                       mode: str) -> torch.Tensor:  # fmt: skip
    """The normalized rule's factor with tensor operations (any device)."""
    qmax = q.abs().max()
    if mode == "any_crossing":
        thr = 0.5 * (q[1:] + q[:-1])
        free = ((w >= thr[-1]) & (delta > 0)) | ((w < thr[0]) & (delta < 0))
    else:
        free = ~(torch.sign(w) * delta < 0)
    factor = 1 - torch.tanh(meta * (w.abs() / qmax)) ** 2
    return torch.where(free, torch.ones_like(w), factor)


def _range_scale(group: dict[str, Any]) -> float:
    """The factor of a group's step: ``Q_max`` for the normalized multi-level rule (its steps are
    taken in units of the weight range), else 1."""
    if group["levels"] is None or group["meta_rule"] != "normalized":
        return 1.0
    return float(group["levels"].abs().max())


def _factor_torch(w: torch.Tensor, delta: torch.Tensor, q: torch.Tensor, meta: float,
                  mode: str) -> torch.Tensor:  # fmt: skip
    """The same factor with tensor operations (any device)."""
    k = q.numel()
    if k == 2:
        toward = torch.sign(w) * delta < 0
        factor = 1 - torch.tanh(meta * w.abs()) ** 2
        return torch.where(toward, factor, torch.ones_like(w))
    thr = 0.5 * (q[1:] + q[:-1])
    # interval (= level) index of w, 0..k-1: the number of thresholds <= w, as the numba kernel
    j = torch.searchsorted(thr, w.contiguous(), right=True)
    up = delta > 0
    has_next = torch.where(up, j < k - 1, j > 0)
    nxt = torch.where(up, thr[j.clamp(max=k - 2)], thr[(j - 1).clamp(min=0)])
    new = torch.where(up, (j + 1).clamp(max=k - 1), (j - 1).clamp(min=0))
    lower = torch.where(j > 0, thr[(j - 1).clamp(min=0)], thr[0] - (q[1] - q[0]))
    upper = torch.where(j < k - 1, thr[j.clamp(max=k - 2)], thr[-1] + (q[-1] - q[-2]))
    width = upper - lower
    d = (nxt - w).abs()
    crossing_matters = has_next & ((q[new].abs() < q[j].abs()) | (mode == "any_crossing"))
    factor = 1 - torch.tanh(meta * d / width) ** 2
    return torch.where(crossing_matters, factor, torch.ones_like(w))


def _adam_moments(
    state: dict[str, Any], p: torch.Tensor, grad: torch.Tensor, betas: tuple[float, float]
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Advance Adam's first and second moments of ``p`` with ``grad``; return ``(m, v, t)``."""
    _advance_step(state, p)
    m, v = state["exp_avg"], state["exp_avg_sq"]
    m.mul_(betas[0]).add_(grad, alpha=1 - betas[0])
    v.mul_(betas[1]).addcmul_(grad, grad, value=1 - betas[1])
    return m, v, state["step"]


def _fused_step(state: dict[str, Any], p: torch.Tensor, group: dict[str, Any]) -> bool:
    """The step of ``MetaplasticAdam`` as one numba pass, for contiguous float CPU tensors (the
    tensor-op path serves every other case); returns False when it does not apply."""
    grad = p.grad
    if (p.device.type != "cpu" or p.dtype not in (torch.float32, torch.float64)
            or grad.dtype != p.dtype or not p.is_contiguous()
            or not grad.is_contiguous()):  # fmt: skip
        return False
    if state and not all(state[k].is_contiguous() and state[k].dtype == p.dtype
                         and state[k].device == p.device
                         for k in ("exp_avg", "exp_avg_sq")):  # fmt: skip
        return False
    from ._meta_kernels import BINARY, MULTILEVEL, NORMALIZED, PLAIN, metaplastic_adam_step

    meta, levels = group["meta"], group["levels"]
    mode, q, edges, shape = PLAIN, _NO_LEVELS, _NO_LEVELS, _UNEVEN
    if meta > 0 and levels is not None and group["meta_rule"] == "normalized":
        mode = NORMALIZED
        q64, edges, _ = _level_edges_cached(levels)
        shape = np.array([1.0 / np.abs(q64).max(), edges[1], edges[-2], 0.0])
    elif meta > 0 and levels is not None and levels.numel() > 2:
        mode = MULTILEVEL
        q, edges, shape = _level_edges_cached(levels)
    elif meta > 0 and levels is not None:  # two levels: the binary rule with d = |w|
        return False
    elif meta > 0:
        mode = BINARY
    t = _advance_step(state, p)
    beta1, beta2 = group["betas"]
    step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t) * _range_scale(group)
    metaplastic_adam_step(
        p.detach().view(-1).numpy(), grad.detach().view(-1).numpy(),
        state["exp_avg"].view(-1).numpy(), state["exp_avg_sq"].view(-1).numpy(),
        float(beta1), float(beta2), float(group["eps"]), float(step_size),
        float(group["weight_decay"]), float(meta), mode, q, edges, shape,
        group["meta_mode"] == "any_crossing", p.dtype == torch.float32,
    )  # fmt: skip
    # written through numpy views: tell torch the tensors changed (layers that follow their
    # weight, such as CrossbarLinear, watch the version counter)
    for tensor in (p, state["exp_avg"], state["exp_avg_sq"]):
        increment_version(tensor)
    return True


_NO_LEVELS = np.zeros(2)


_UNEVEN = np.zeros(4)


_EDGES: dict[int, tuple[torch.Tensor, int, tuple[np.ndarray, ...]]] = {}


def _level_edges_cached(levels: torch.Tensor) -> tuple[np.ndarray, ...]:
    """:func:`_level_edges`, made again only when ``levels`` is another tensor or was changed
    in place (its version counter); the cache holds the tensor, so its id is not reused."""
    hit = _EDGES.get(id(levels))
    if hit is None or hit[0] is not levels or hit[1] != levels._version:
        if len(_EDGES) > 64:  # groups come and go with optimizers: keep the cache small
            _EDGES.clear()
        hit = (levels, levels._version, _level_edges(levels))
        _EDGES[id(levels)] = hit
    return hit[2]


def _level_edges(levels: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levels as float64, their K + 1 interval edges (thresholds, and one level spacing beyond
    each end), and their shape, as the numba kernels take them: ``[even, up, down, margin]``
    with ``even`` 1 when the edges are evenly spaced to 1e-4 of their mean spacing (float32
    levels are, to ~1e-7), ``up`` the first interval from which a step up does not decrease
    ``|W_Q|`` (``|q[j + 1]| >= |q[j]|``, K - 1 if none), ``down`` the last from which a step
    down does not (``|q[j - 1]| >= |q[j]|``, 0 if none) and ``margin`` the distance from an
    edge, in spacings, within which the arithmetic interval of evenly spaced edges may differ
    from the true one (twice the worst accumulated deviation of the edges from an even grid, and
    at least 1e-9). The two step tests are monotone in j for increasing levels, so they are
    thresholds on the interval index."""
    q64 = levels.detach().to("cpu", torch.float64).contiguous().numpy()
    thr = 0.5 * (q64[1:] + q64[:-1])
    edges = np.concatenate([[thr[0] - (q64[1] - q64[0])], thr, [thr[-1] + (q64[-1] - q64[-2])]])
    k = q64.size
    mean = (edges[-1] - edges[0]) / k
    grid = edges[0] + mean * np.arange(k + 1)
    deviation = float(np.abs(edges - grid).max() / mean)
    even = deviation <= 1e-4
    up = np.flatnonzero(np.abs(q64[1:]) >= np.abs(q64[:-1]))
    down = np.flatnonzero(np.abs(q64[:-1]) >= np.abs(q64[1:])) + 1
    shape = np.array([float(even), up[0] if up.size else k - 1, down[-1] if down.size else 0,
                      max(2.0 * deviation, 1e-9)])  # fmt: skip
    return q64, edges, shape


def _advance_step(state: dict[str, Any], p: torch.Tensor) -> int:
    """Create Adam's state of ``p`` on its first step (zero moments); count one more step."""
    if not state:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(p)
        state["exp_avg_sq"] = torch.zeros_like(p)
    state["step"] += 1
    return state["step"]


def _run_closure(closure: Any) -> Any:
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


class MetaplasticAdam(torch.optim.Optimizer):
    """Adam with synaptic metaplasticity (Laborieux et al., Nat. Commun. 12:2549, 2021).

    Every parameter is a hidden weight ``W_h`` (the network uses a quantized version of it, e.g.
    ``sign(W_h)``); ``p.grad`` is read as ``dL/dW_b``. With ``g = grad + weight_decay * W_h``:

    .. math::

        m &\\leftarrow \\beta_1 m + (1-\\beta_1) g, \\qquad v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2 \\\\
        s &= \\mathrm{lr}\\,\\sqrt{1-\\beta_2^t}/(1-\\beta_1^t), \\qquad u = m / (\\sqrt{v} + \\epsilon) \\\\
        W_h &\\leftarrow W_h - s\\, f_\\mathrm{meta}\\, u, \\qquad
        f_\\mathrm{meta} = 1 - \\tanh^2(\\mathrm{meta}\\,|W_h|) \\text{ where } \\mathrm{sign}(W_h)\\, m > 0
        \\text{ (else 1)}

    i.e. updates that push a hidden weight toward zero (toward a sign change) are attenuated the
    more the larger ``|W_h|`` is; ``meta = 0`` is Adam in this form (the bias correction folded into
    the step size, as in the authors' code ``models_utils.py``). There is no clipping of ``W_h``.
    ``meta`` may differ per parameter group (the paper's batch-norm parameters use ``meta = 0``).

    **Multi-level weights** (D'Agostino et al., AICAS 2023; the paper's rule body is not public,
    docs/training.md gives the reconstruction and its reasoning): a parameter group with
    ``"levels"`` (the values the stored weight can take, increasing, >= 2, e.g.
    ``layer.weight_levels()``) uses :func:`multilevel_meta_factor` instead, ``meta`` being the
    dimensionless ``m*`` (robust for 2-4 per the paper). With ``"meta_rule"`` ``"normalized"``
    (default) the group works in units of its weight range ``Q_max = max |level|``: the step is
    ``Q_max`` times Adam's (so ``lr`` is a fraction of the weight range, whatever the layer's
    scale, also at ``m* = 0``) and an update that decreases ``|W_h|`` is multiplied by
    ``1 - tanh^2(m* |W_h| / Q_max)``; a hidden weight must travel about ``Q_max / m*`` from zero,
    some ``1 / (m* lr)`` steps, before it is consolidated, as in the binary rule, which it is with
    levels ``±1``. ``"interval"`` is the earlier reconstruction (distances in units of the level
    spacing, Adam's step unscaled). ``"meta_mode"``: ``"toward_zero"`` (default) or
    ``"any_crossing"``.

    Parameters
    ----------
    params : iterable of tensors or dicts
        Parameters or parameter groups.
    lr : float, default 0.005
    meta : float, default 1.35
        Metaplasticity coefficient m >= 0.
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
        L2 coefficient added to the gradient (the paper uses 1e-7).
    precision : HiddenPrecision, optional
        Storage format of the hidden weights (``crossbar.metaplastic``): after every step they
        are rounded to it (per parameter group as ``"precision"``); default float32.
    generator : torch.Generator, optional
        Random source of stochastic rounding.
    """

    def __init__(self, params: Iterable[Any], lr: float = 0.005, meta: float = 1.35,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, precision: Any = None,
                 generator: torch.Generator | None = None) -> None:  # fmt: skip
        from .metaplastic import HiddenPrecision

        _check_hyper(lr, meta, betas, eps, weight_decay)
        defaults = {"lr": lr, "meta": meta, "betas": tuple(betas), "eps": eps,
                    "weight_decay": weight_decay, "levels": None, "meta_mode": "toward_zero",
                    "meta_rule": "normalized", "precision": precision}  # fmt: skip
        self.generator = generator
        super().__init__(params, defaults)
        for group in self.param_groups:
            _check_hyper(group["lr"], group["meta"], group["betas"], group["eps"],
                         group["weight_decay"])  # fmt: skip
            check_choice("meta_mode", group["meta_mode"], META_MODES, "MetaplasticAdam")
            check_choice("meta_rule", group["meta_rule"], META_RULES, "MetaplasticAdam")
            if group["precision"] is not None and not isinstance(
                group["precision"], HiddenPrecision
            ):
                raise InvalidParameterError(
                    "The 'precision' parameter of MetaplasticAdam must be a HiddenPrecision or "
                    f"None. Got {type(group['precision']).__name__} instead."
                )
            if group["levels"] is not None:
                q = torch.as_tensor(group["levels"], dtype=torch.float64).flatten()
                if q.numel() < 2 or not torch.isfinite(q).all() or (q[1:] <= q[:-1]).any():
                    raise InvalidParameterError(
                        "The 'levels' parameter of MetaplasticAdam must hold at least 2 finite, "
                        f"strictly increasing values (K >= 2). Got {group['levels']!r} instead."
                    )
                group["levels"] = q

    @staticmethod
    def _tensor_step(p: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
        """The step with tensor operations (any device; the reference of the fused CPU pass)."""
        beta1, beta2 = group["betas"]
        grad = p.grad
        if group["weight_decay"] != 0:
            grad = grad.add(p, alpha=group["weight_decay"])
        m, v, t = _adam_moments(state, p, grad, group["betas"])
        step_size = group["lr"] * math.sqrt(1 - beta2**t) / (1 - beta1**t) * _range_scale(group)
        update = m / (v.sqrt() + group["eps"])
        if group["meta"] > 0 and group["levels"] is not None:
            factor = multilevel_meta_factor(p, -update, group["levels"].to(p.device),
                                            group["meta"], group["meta_mode"],
                                            group["meta_rule"])  # fmt: skip
            update = update * factor
        elif group["meta"] > 0:
            toward_zero = torch.sign(p) * m > 0
            f_meta = 1 - torch.tanh(group["meta"] * p.abs()) ** 2
            update = torch.where(toward_zero, f_meta * update, update)
        p.add_(update, alpha=-step_size)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = _run_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise InvalidParameterError(
                        "MetaplasticAdam does not support sparse gradients."
                    )
                if not _fused_step(self.state[p], p, group):
                    self._tensor_step(p, group, self.state[p])
                if group["precision"] is not None:
                    group["precision"].quantize_(p, self.generator)
        return loss


class MESU(torch.optim.Optimizer):
    """Metaplasticity from Synaptic Uncertainty (Bonnet et al. 2023/2025; docs/training.md).

    Every synapse has a mean ``mu`` and a standard deviation ``sigma``, kept digitally. With
    ``C`` the expected negative log-likelihood of the mini-batch (Monte-Carlo average over weight
    samples ``w = mu + sigma * eps``, summed over the batch) and its gradients in ``.grad``:

    .. math::

        \\Delta\\mu &= -\\sigma^2 \\,\\partial C/\\partial\\mu
                       + \\sigma^2 (\\mu_p - \\mu) / (N \\sigma_p^2) \\\\
        \\Delta\\sigma &= -\\tfrac12 \\sigma^2 \\,\\partial C/\\partial\\sigma
                       + \\sigma (\\sigma_p^2 - \\sigma^2) / (2 N \\sigma_p^2)

    No learning rate: the uncertainty ``sigma^2`` sets each synapse's step, so uncertain synapses
    learn fast and certain ones are consolidated; ``N`` is the memory window (in samples).

    Parameters
    ----------
    params : iterable
        Parameters in (mu, sigma) pairs: a flat sequence ``mu_0, sigma_0, mu_1, sigma_1, ...`` or
        param groups whose ``"params"`` are such pairs (see ``BayesianLinear.mesu_parameters``).
    sigma_prior, mu_prior : float
        Prior N(mu_prior, sigma_prior^2) of every synapse (defaults 1, 0).
    n_memory : float
        N, the number of past samples the posterior remembers (default 3e5).
    sigma_min : float
        Floor that keeps every sigma positive.
    """

    def __init__(self, params: Iterable[Any], sigma_prior: float = 1.0, mu_prior: float = 0.0,
                 n_memory: float = 3e5, sigma_min: float = 1e-8) -> None:  # fmt: skip
        def check(name: str, value: Any, positive: bool) -> None:
            ok = (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
            )
            if not ok or (positive and value <= 0):
                raise InvalidParameterError(
                    f"The {name!r} parameter of MESU must be a finite number"
                    f"{' > 0' if positive else ''}. Got {value!r} instead."
                )

        check("sigma_prior", sigma_prior, True)
        check("mu_prior", mu_prior, False)
        check("n_memory", n_memory, True)
        check("sigma_min", sigma_min, True)
        defaults = {"sigma_prior": sigma_prior, "mu_prior": mu_prior, "n_memory": n_memory,
                    "sigma_min": sigma_min}  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            ps = group["params"]
            if len(ps) % 2 or any(
                m.shape != s.shape for m, s in zip(ps[::2], ps[1::2], strict=True)
            ):
                raise InvalidParameterError(
                    "The 'params' of MESU must come in (mu, sigma) pairs of equal shapes. Got "
                    f"{len(ps)} tensors of shapes {[tuple(p.shape) for p in ps]} instead."
                )

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One MESU update of every (mu, sigma) pair with gradients."""
        loss = _run_closure(closure)
        for group in self.param_groups:
            sp2 = group["sigma_prior"] ** 2
            n = group["n_memory"]
            ps = group["params"]
            for mu, sigma in zip(ps[::2], ps[1::2], strict=True):
                if mu.grad is None or sigma.grad is None:
                    continue
                s2 = sigma * sigma
                d_mu = -s2 * mu.grad + s2 * (group["mu_prior"] - mu) / (n * sp2)
                d_sigma = -0.5 * s2 * sigma.grad + sigma * (sp2 - s2) / (2 * n * sp2)
                mu.add_(d_mu)
                sigma.add_(d_sigma).clamp_(min=group["sigma_min"])
        return loss


class WeakResetAdam(torch.optim.Optimizer):
    """In-situ training of weak-RESET device pairs (Majumdar et al., IEEE TED 2021; docs/devices.md).

    For every :class:`~crossbar.nn.WeakResetLinear` weight, the Adam step
    ``u = -lr * m_hat / (sqrt(v_hat) + eps)`` (bias-corrected moments of the gradient with respect
    to the binary weight) becomes a pulse count ``n = round(clip(u, -max_pulses, max_pulses))``:
    ``n > 0`` gives n weak-RESET pulses to the BL device, ``n < 0`` gives ``|n|`` to BLb. The
    devices are then read and the binary weight set to ``sign(R_BL - R_BLb)``. Devices are never
    re-SET. ``lr`` is the pulse gain (100 in the authors' runs).

    Parameters
    ----------
    layers : iterable of WeakResetLinear
    lr : float, default 100
    betas, eps : Adam's
    max_pulses : int, default 14
    """

    def __init__(self, layers: Iterable[Any], lr: float = 100.0,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 max_pulses: int = 14) -> None:  # fmt: skip
        from .nn import WeakResetLinear

        self.layers = list(layers)
        if not self.layers or not all(isinstance(lay, WeakResetLinear) for lay in self.layers):
            raise InvalidParameterError(
                "The 'layers' parameter of WeakResetAdam must be a non-empty sequence of "
                f"WeakResetLinear. Got {[type(lay).__name__ for lay in self.layers]} instead."
            )
        _check_hyper(lr, 0.0, betas, eps, 0.0, owner="WeakResetAdam")
        if isinstance(max_pulses, bool) or not isinstance(max_pulses, int) or max_pulses < 1:
            raise InvalidParameterError(
                f"The 'max_pulses' parameter of WeakResetAdam must be an int >= 1. "
                f"Got {max_pulses!r} instead."
            )
        super().__init__([lay.weight for lay in self.layers],
                         {"lr": lr, "betas": tuple(betas), "eps": eps, "max_pulses": max_pulses})  # fmt: skip
        self._owner = {id(lay.weight): lay for lay in self.layers}

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """Turn each weight's Adam step into pulses, apply them, read back the binary weights."""
        loss = _run_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                m, v, t = _adam_moments(self.state[p], p, p.grad, group["betas"])
                m_hat = m / (1 - beta1**t)
                v_hat = v / (1 - beta2**t)
                u = -group["lr"] * m_hat / (v_hat.sqrt() + group["eps"])
                k = group["max_pulses"]
                n = torch.round(u.clamp(-k, k)).to(torch.int64).reshape(-1).cpu().numpy()
                pulses = np.concatenate([np.maximum(n, 0), np.maximum(-n, 0)])
                layer = self._owner[id(p)]
                layer.refresh(layer.devices.pulse_and_read(pulses))
        return loss
