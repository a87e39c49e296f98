"""Per-device endurance counters shared by every device model.

Every pulse and every write a device receives is counted, per kind of event ("weak_reset",
"set", "reset", "verify_read", ...), so that reports can estimate lifetime from the write
counters and so that wear-out models can fail a device when its count passes its limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ._validation import InvalidParameterError, check_int, closest, readonly
from .distributions import TruncatedDistribution
from .params import WearOutParams

__all__ = ["EnduranceCounters", "WearOut", "wear_from_dict", "wear_to_dict"]


class EnduranceCounters:
    """Event counters, one ``int64`` array of shape ``(n_devices,)`` per kind of event.

    Parameters
    ----------
    n_devices : int
        Number of devices.
    kinds : iterable of str
        Names of the counted events, e.g. ``("weak_reset", "set")``.

    Notes
    -----
    Kernels update the arrays returned by :meth:`array` in place (no extra pass over memory);
    :attr:`pulse_count` is the sum over kinds that are programming pulses (all kinds except
    those listed in ``non_pulse_kinds``, such as verify reads).
    """

    def __init__(
        self, n_devices: int, kinds: Iterable[str], non_pulse_kinds: Iterable[str] = ()
    ) -> None:
        self.n_devices = check_int("n_devices", n_devices, "EnduranceCounters", 0)
        self.kinds = tuple(kinds)
        if not self.kinds or len(set(self.kinds)) != len(self.kinds):
            raise InvalidParameterError(
                f"The 'kinds' parameter of EnduranceCounters must be non-empty names without "
                f"repeats. Got {self.kinds!r} instead."
            )
        self.non_pulse_kinds = tuple(k for k in non_pulse_kinds if k in self.kinds)
        self._counts = {k: np.zeros(self.n_devices, dtype=np.int64) for k in self.kinds}

    def array(self, kind: str) -> np.ndarray:
        """The live counter array of ``kind`` (modified in place by the device model)."""
        try:
            return self._counts[kind]
        except KeyError:
            raise InvalidParameterError(
                f"Unknown counter kind {kind!r}; known kinds: {list(self.kinds)}."
                + closest(kind, self.kinds)
            ) from None

    def __getitem__(self, kind: str) -> np.ndarray:
        return readonly(self.array(kind))

    def add(self, kind: str, index: np.ndarray | slice, amount: int | np.ndarray = 1) -> None:
        """Add ``amount`` events of ``kind`` to the devices selected by ``index``."""
        arr = self.array(kind)
        if isinstance(index, slice) or np.asarray(index).dtype == np.bool_:
            arr[index] += amount
        else:  # integer indices may repeat: count every occurrence
            np.add.at(arr, index, amount)

    @property
    def pulse_count(self) -> np.ndarray:
        """Programming pulses received per device (sum over the pulse kinds)."""
        total = np.zeros(self.n_devices, dtype=np.int64)
        for kind in self.kinds:
            if kind not in self.non_pulse_kinds:
                total += self._counts[kind]
        return total

    def summary(self) -> dict[str, dict[str, float]]:
        """Max, mean and total per kind (and for all pulses) — the numbers endurance reports print."""
        out = {}
        for kind in (*self.kinds, "pulses"):
            arr = self.pulse_count if kind == "pulses" else self._counts[kind]
            out[kind] = {
                "max": int(arr.max()) if arr.size else 0,
                "mean": float(arr.mean()) if arr.size else 0.0,
                "total": int(arr.sum()),
            }
        return out

    def to_arrays(self, prefix: str = "count_") -> dict[str, np.ndarray]:
        """Arrays to store in a state file, keyed ``prefix + kind``."""
        return {prefix + k: v for k, v in self._counts.items()}

    def load_arrays(self, arrays: dict[str, np.ndarray], prefix: str = "count_") -> None:
        """Restore counts saved by :meth:`to_arrays` (shapes checked)."""
        for kind in self.kinds:
            key = prefix + kind
            if key not in arrays:
                raise InvalidParameterError(f"State file has no counter {key!r}.")
            arr = np.asarray(arrays[key])
            if arr.shape != (self.n_devices,):
                raise InvalidParameterError(
                    f"Counter {key!r} in the state file has shape {arr.shape}; "
                    f"expected ({self.n_devices},)."
                )
            if arr.dtype.kind not in "iu" or (arr.size and arr.min() < 0):
                raise InvalidParameterError(
                    f"Counter {key!r} in the state file must hold non-negative integers."
                )
            self._counts[kind][:] = arr


class WearOut:
    """Per-device endurance limits and the worn-out state (docs/devices.md).

    Parameters
    ----------
    n_devices : int
        Number of devices.
    params : WearOutParams or None
        Limit distribution and stuck-state split; ``None`` disables wear-out (no limit).
    rng : numpy.random.Generator
        Draws the limits (one uniform per device) and the stuck states (one more).

    Attributes
    ----------
    limit : ndarray of int64
        Writes a device survives; the write that takes its counter past it fails the device.
    stuck_lrs_on_failure : ndarray of bool
        Where a worn-out device gets stuck: its LRS (True) or its HRS (False).
    failed : ndarray of bool
        Worn-out devices (live array, updated by the kernels).
    """

    NO_LIMIT = np.iinfo(np.int64).max

    def __init__(self, n_devices: int, params: WearOutParams | None, rng: np.random.Generator):
        self.params = params
        if params is None:
            self.limit = np.full(n_devices, self.NO_LIMIT, dtype=np.int64)
            self.stuck_lrs_on_failure = np.zeros(n_devices, dtype=np.bool_)
        else:
            draws = np.floor(params.limit_writes.sample(n_devices, rng))
            self.limit = np.minimum(draws, 2.0**62).astype(np.int64)
            self.stuck_lrs_on_failure = rng.random(n_devices) < params.stuck_lrs_probability
        self.failed = np.zeros(n_devices, dtype=np.bool_)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "wear_limit": self.limit,
            "wear_stuck_lrs": self.stuck_lrs_on_failure,
            "wear_failed": self.failed,
        }

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for key, target in (
            ("wear_limit", self.limit),
            ("wear_stuck_lrs", self.stuck_lrs_on_failure),
            ("wear_failed", self.failed),
        ):
            arr = arrays.get(key)
            if arr is None or arr.shape != target.shape or arr.dtype != target.dtype:
                raise InvalidParameterError(
                    f"State file array {key!r} must be {target.dtype}{target.shape}."
                )
            target[:] = arr


def wear_to_dict(wear: WearOutParams | None) -> dict[str, Any] | None:
    """JSON form of wear-out parameters (None stays None)."""
    if wear is None:
        return None
    return {
        "limit_writes": wear.limit_writes.to_dict(),
        "stuck_lrs_probability": wear.stuck_lrs_probability,
    }


def wear_from_dict(data: dict[str, Any] | None) -> WearOutParams | None:
    """Inverse of :func:`wear_to_dict`."""
    if data is None:
        return None
    return WearOutParams(
        TruncatedDistribution.from_dict(data["limit_writes"]), data["stuck_lrs_probability"]
    )
