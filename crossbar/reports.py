"""Endurance and memory-footprint reports (``crossbar endurance``, ``crossbar footprint``).

**Endurance.** An experiment that writes devices saves ``device_writes.npz``: ``writes`` (the
programming pulses every device received) and ``periods`` (how many training epochs that took).
Each device has an endurance limit ``N_end`` drawn from ``WearOutParams.limit_writes`` (default:
log-normal, median 1e6 writes, ``sigma_ln = 1``; docs/devices.md). A device written at the rate
``r_i = writes_i / periods`` fails after ``N_end / r_i`` periods, so the expected fraction of failed
devices after ``T`` periods is ``F(T) = mean_i P(N_end < r_i T)``; the projected lifetime is the
``T`` where ``F(T) = 1 %`` (solved by bisection on ``log T``).

**Footprint.** Memory of a network: ``hidden weights x bits per hidden weight`` of digital memory
plus ``devices x bits per device`` of analog storage (``log2`` of the levels a device holds).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from devices import InvalidParameterError, WearOutParams
from devices.support import check_int

from ._files import save_png

__all__ = ["BNN_BASELINE_DIMS", "BNN_BASELINE_WEIGHTS", "EnduranceReport", "FootprintReport",
           "endurance_report", "footprint_report"]  # fmt: skip

#: The binarized baseline of every footprint comparison: the metaplastic BNN of Laborieux et al.
#: (Nat. Commun. 2021), 784-4096-4096-10, and its number of weights.
BNN_BASELINE_DIMS = (784, 4096, 4096, 10)
BNN_BASELINE_WEIGHTS = sum(a * b for a, b in itertools.pairwise(BNN_BASELINE_DIMS))


@dataclass
class EnduranceReport:
    """Writes per device, failures against the endurance limits, projected lifetime."""

    devices: int
    periods: float
    period: str
    max_writes: int
    mean_writes: float
    fraction_past_limit: float
    lifetime_periods: float
    limit_median: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def failed_fraction(writes: np.ndarray, wear: WearOutParams) -> float:
    """Expected fraction of devices whose limit is below their write count."""
    return float(np.mean(wear.limit_writes.cdf(np.asarray(writes, dtype=np.float64))))


def endurance_report(folder: str | os.PathLike[str], wear: WearOutParams | None = None,
                     plot: str | os.PathLike[str] | None = None) -> EnduranceReport:  # fmt: skip
    """The endurance report of a results folder holding ``device_writes.npz``."""
    path = Path(folder) / "device_writes.npz"
    if not path.exists():
        raise InvalidParameterError(
            f"{folder}: no device_writes.npz; run an experiment that writes devices first "
            "(crossbar run qnn-multilevel or weak-reset-ablation --out DIR)."
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            writes = np.asarray(z["writes"], dtype=np.float64)
            periods = float(z["periods"])
            period = str(z["period"]) if "period" in z.files else "period"
    except KeyError as exc:
        raise InvalidParameterError(f"{path}: missing array {exc}.") from None
    except Exception as exc:  # not a zip, truncated, pickled objects, wrong shapes or types
        raise InvalidParameterError(
            f"{path}: not a device-writes file ({type(exc).__name__}: {exc})."[:400]
        ) from None
    if (writes.ndim != 1 or writes.size == 0 or not np.all(np.isfinite(writes))
            or writes.min() < 0 or not math.isfinite(periods) or periods <= 0):  # fmt: skip
        raise InvalidParameterError(f"{path}: 'writes' must be a non-empty 1-D array of "
                                    "non-negative counts and 'periods' a finite number > 0; got "
                                    f"{writes.size} writes (min {np.min(writes, initial=0)}), "
                                    f"periods {periods!r}.")  # fmt: skip
    wear = wear or WearOutParams()
    rate = writes / periods

    def fraction(t: float) -> float:
        return failed_fraction(rate * t, wear)

    lo, hi = 1e-6, 1e30
    if fraction(hi) < 0.01:  # fewer than 1 % of the devices are ever written
        lifetime = math.inf
    else:
        for _ in range(200):  # bisection on log T
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if fraction(mid) < 0.01 else (lo, mid)
        lifetime = hi
    report = EnduranceReport(
        devices=int(writes.size), periods=periods, period=period, max_writes=int(writes.max()),
        mean_writes=float(writes.mean()), fraction_past_limit=failed_fraction(writes, wear),
        lifetime_periods=lifetime, limit_median=float(wear.limit_writes.ppf(0.5)),
    )  # fmt: skip
    if plot is not None:
        _plot_endurance(writes, rate, wear, report, plot)
    return report


def _plot_endurance(writes: np.ndarray, rate: np.ndarray, wear: WearOutParams,
                    report: EnduranceReport, path: str | os.PathLike[str]) -> None:  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax.hist(writes, bins=60, log=True)
    ax.set(xlabel="programming pulses per device", ylabel="devices",
           title=f"max {report.max_writes:,}, mean {report.mean_writes:.1f}")  # fmt: skip
    if math.isfinite(report.lifetime_periods):
        t = np.logspace(math.log10(report.periods) - 1, math.log10(report.lifetime_periods) + 2, 80)
        ax2.plot(t, [failed_fraction(rate * x, wear) for x in t])
        ax2.axhline(0.01, color="gray", ls="--")
        ax2.axvline(report.lifetime_periods, color="C1", ls="--",
                    label=f"1 % failed: {report.lifetime_periods:.3g} {report.period}s")  # fmt: skip
        ax2.axvline(report.periods, color="C2", ls=":", label="this run")
        ax2.set(xscale="log", yscale="log", xlabel=f"{report.period}s", ylim=(1e-6, 1),
                ylabel="expected fraction of failed devices")  # fmt: skip
        ax2.legend()
    fig.tight_layout()
    save_png(fig, path, dpi=110)
    plt.close(fig)


@dataclass
class FootprintReport:
    """Memory of a multi-level network against a binarized one (``docs/validation.md``)."""

    weights: int
    hidden_bits: int
    devices: int
    device_bits: float
    bnn_weights: int
    bnn_hidden_bits: int
    bnn_devices: int
    bnn_device_bits: float
    ratio_total: float
    ratio_hidden: float
    hidden_units_for_15x: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weights(dims: list[int]) -> int:
    return sum(a * b for a, b in itertools.pairwise(dims))


def footprint_report(dims: list[int], levels: int = 8, hidden_bits: int = 32,
                     devices_per_weight: int = 2, bnn_dims: list[int] | None = None,
                     bnn_hidden_bits: int = 32,
                     bnn_devices_per_weight: int = 2) -> FootprintReport:  # fmt: skip
    """Hidden-weight bits plus device storage of a network against a BNN baseline.

    Parameters
    ----------
    dims : list of int
        Layer widths of the multi-level network (default experiment: 784-1024-10).
    levels : int
        Conductance levels per device (``log2(levels)`` bits each).
    hidden_bits : int
        Bits of one digital hidden weight (32: float32).
    devices_per_weight : int
        2 for differential pairs.
    bnn_dims : list of int
        The binarized baseline (default Laborieux et al.'s 784-4096-4096-10).
    bnn_hidden_bits, bnn_devices_per_weight : int
        Its hidden-weight precision (float32) and devices per binary weight (2T2R: 2, one bit).
    """
    bnn_dims = bnn_dims or list(BNN_BASELINE_DIMS)
    for name, value in (("dims", dims), ("bnn_dims", bnn_dims)):
        if len(value) < 2 or any(not isinstance(v, int) or v < 1 for v in value):
            raise InvalidParameterError(
                f"The {name!r} parameter of footprint_report must be >= 2 positive layer widths. "
                f"Got {value!r} instead."
            )
    for name, value, low in (("levels", levels, 2), ("hidden_bits", hidden_bits, 1),
                             ("devices_per_weight", devices_per_weight, 1),
                             ("bnn_hidden_bits", bnn_hidden_bits, 1),
                             ("bnn_devices_per_weight", bnn_devices_per_weight, 1)):  # fmt: skip
        check_int(name, value, "footprint_report", low)
    w, wb = _weights(dims), _weights(bnn_dims)
    devices, bnn_devices = w * devices_per_weight, wb * bnn_devices_per_weight
    bits = w * hidden_bits + devices * math.log2(levels)
    # a pair of binary devices stores one bit (2T2R); a single binary device too
    bnn_bits = wb * bnn_hidden_bits + wb * 1.0
    per_weight = hidden_bits + devices_per_weight * math.log2(levels)
    # a 2-layer perceptron dims[0]-H-dims[-1] with 15x less memory than the BNN
    h15 = bnn_bits / 15 / per_weight / (dims[0] + dims[-1])
    return FootprintReport(
        weights=w, hidden_bits=w * hidden_bits, devices=devices,
        device_bits=devices * math.log2(levels), bnn_weights=wb,
        bnn_hidden_bits=wb * bnn_hidden_bits, bnn_devices=bnn_devices, bnn_device_bits=wb * 1.0,
        ratio_total=bnn_bits / bits, ratio_hidden=(wb * bnn_hidden_bits) / (w * hidden_bits),
        hidden_units_for_15x=h15,
    )  # fmt: skip
