"""Monte-Carlo statistics of a device population along a pulse train."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._validation import InvalidParameterError
from .weak_reset import WeakResetRRAM

__all__ = ["QUANTILES_PERCENT", "PulseTrainStatistics", "pulse_train_statistics"]

#: Default quantiles (percent) reported along pulse trains.
QUANTILES_PERCENT = (5.0, 25.0, 50.0, 75.0, 95.0)


@dataclass(frozen=True)
class PulseTrainStatistics:
    """Quantiles of R and ln(R/R0) over a population, per pulse count.

    Attributes
    ----------
    pulses : ndarray of int, shape (P,)
        Pulse counts at which the population was read.
    quantiles_percent : ndarray, shape (Q,)
        The quantile levels, in percent.
    resistance_ohm : ndarray, shape (P, Q)
        Quantiles of R (ohm).
    log_ratio : ndarray, shape (P, Q)
        Quantiles of ln(R/R0), R0 being each device's own post-SET resistance.
    mean_log_ratio : ndarray, shape (P,)
        Population mean of ln(R/R0).
    extrapolated_fraction : ndarray, shape (P,)
        Fraction of devices past the fitted pulse range (the model extrapolates there).
    """

    pulses: np.ndarray
    quantiles_percent: np.ndarray
    resistance_ohm: np.ndarray
    log_ratio: np.ndarray
    mean_log_ratio: np.ndarray
    extrapolated_fraction: np.ndarray


def pulse_train_statistics(
    population: WeakResetRRAM,
    pulses: Sequence[int],
    quantiles_percent: Sequence[float] = QUANTILES_PERCENT,
    callback: Callable[[int], None] | None = None,
) -> PulseTrainStatistics:
    """Apply single weak-RESET pulses to every device and record quantiles at given pulse counts.

    Pulses are applied one at a time (as in training, where each optimiser step issues a few),
    starting from the population's current state; reads happen only at the requested counts.

    Parameters
    ----------
    population : WeakResetRRAM
        The devices; modified in place.
    pulses : sequence of int
        Pulse counts (>= 0) at which to read; sorted and de-duplicated.
    quantiles_percent : sequence of float
        Quantile levels in [0, 100].
    callback : callable, optional
        Called with the number of pulses just applied (for progress bars).
    """
    counts = np.asarray(pulses)
    if counts.ndim != 1 or counts.size == 0 or counts.dtype.kind not in "iu" or (counts < 0).any():
        raise InvalidParameterError(
            "The 'pulses' parameter of pulse_train_statistics must be a non-empty sequence of "
            f"non-negative ints. Got {pulses!r} instead."
        )
    q = np.asarray(quantiles_percent, dtype=np.float64)
    if q.ndim != 1 or q.size == 0 or not np.all((q >= 0) & (q <= 100)):
        raise InvalidParameterError(
            "The 'quantiles_percent' parameter of pulse_train_statistics must be values in "
            f"[0, 100]. Got {quantiles_percent!r} instead."
        )
    counts = np.unique(counts)
    r0 = population.d2d_parameters["r0_ohm"].astype(np.float64)
    r_q = np.empty((counts.size, q.size))
    w_q = np.empty((counts.size, q.size))
    w_mean = np.empty(counts.size)
    extrap = np.empty(counts.size)
    r = np.empty(population.n_devices)
    w = np.empty(population.n_devices)
    done = 0
    for row, target in enumerate(counts):
        while done < target - 1:
            population.apply_pulses(1)
            done += 1
            if callback is not None:
                callback(1)
        if done < target:
            population.pulse_and_read(1, out=r)
            done += 1
            if callback is not None:
                callback(1)
        else:
            population.resistance(out=r)
        np.divide(r, r0, out=w)
        np.log(w, out=w)
        r_q[row] = np.percentile(r, q)
        w_q[row] = np.percentile(w, q)
        w_mean[row] = w.mean()
        extrap[row] = population.extrapolating.mean()
    return PulseTrainStatistics(counts, q, r_q, w_q, w_mean, extrap)
