"""Device-to-device (D2D) variability: draw the per-device parameters of a population."""

from __future__ import annotations

import numpy as np

from .params import D2D_FIELDS, WeakResetParams

__all__ = ["sample_weak_reset_population"]


def sample_weak_reset_population(
    params: WeakResetParams, n_devices: int, rng: np.random.Generator, d2d: bool = True
) -> dict[str, np.ndarray]:
    """Per-device parameters of ``n_devices`` weak-RESET devices.

    Parameters
    ----------
    params : WeakResetParams
        The D2D distributions.
    n_devices : int
        Population size.
    rng : numpy.random.Generator
        Source of the uniforms; one uniform per device and parameter, drawn parameter by
        parameter in the order of :data:`devices.params.D2D_FIELDS`.
    d2d : bool
        If False every device gets the median of each distribution ("shared" mode; docs/devices.md)
        and ``rng`` is not used.

    Returns
    -------
    dict of str to ndarray
        One float64 array of shape ``(n_devices,)`` per name in ``D2D_FIELDS``.
    """
    if not d2d:
        return {name: np.full(n_devices, value) for name, value in params.medians().items()}
    return {name: getattr(params, name).sample(n_devices, rng) for name in D2D_FIELDS}
