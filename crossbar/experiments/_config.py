"""The experiments' configurations: frozen dataclasses with documented fields.

Each experiment module defines its configuration as a subclass of :class:`ExperimentConfig`;
``Experiment.config(quick, seed)`` builds it, ``crossbar run --set KEY=VALUE`` replaces fields
(:meth:`ExperimentConfig.with_overrides`, type-checked), and the run folder saves it as JSON
(:meth:`ExperimentConfig.to_dict`) in ``checkpoint.json`` and ``results.json``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from devices import InvalidParameterError
from devices.support import closest

__all__ = ["ExperimentConfig"]

_C = TypeVar("_C", bound="ExperimentConfig")


@dataclass(frozen=True)
class ExperimentConfig:
    """Base of the experiments' configurations (no fields of its own)."""

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (what run folders save)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def with_overrides(self: _C, experiment: str, overrides: dict[str, Any]) -> _C:
        """A copy with ``overrides`` replacing fields: each must be a field (not ``quick`` or
        ``seed``, which have their own options) and keep the type of its current value (an int
        is accepted for a float)."""
        fields = {f.name for f in dataclasses.fields(self)}
        changes = {}
        for key, value in overrides.items():
            if key in ("quick", "seed") or key not in fields:
                known = ", ".join(f for f in fields if f not in ("quick", "seed"))
                raise InvalidParameterError(
                    f"--set {key}: not a configuration field of {experiment}; its fields are "
                    f"{known}." + closest(str(key), tuple(fields))
                )
            default = getattr(self, key)
            numeric = (int, float)
            same = (isinstance(value, numeric) and isinstance(default, numeric)
                    and not isinstance(value, bool) and not isinstance(default, bool)
                    and (isinstance(value, int) or isinstance(default, float))) or (
                type(value) is type(default)
            )  # fmt: skip
            if default is not None and not same:
                raise InvalidParameterError(
                    f"--set {key}: {experiment} expects a value like {json.dumps(default)}. Got "
                    f"{json.dumps(value)} instead."
                )
            changes[key] = value
        return dataclasses.replace(self, **changes)
