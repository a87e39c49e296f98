"""State files of the device populations: one ``.npz`` of plain arrays plus a JSON header.

No pickle is involved in writing or reading; the header names the format and its version.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any

import numpy as np

from ._validation import InvalidParameterError

__all__ = ["copy_checked", "read_state", "write_state"]


def write_state(
    path: str | os.PathLike[str], fmt: str, version: int, meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:  # fmt: skip
    """Write ``arrays`` and the JSON header ``meta`` (plus format and version) to exactly ``path``."""
    header = {"format": fmt, "version": version, **meta}
    payload = dict(arrays)
    payload["meta_json"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload)  # type: ignore[arg-type]
    with open(path, "wb") as fh:
        fh.write(buf.getbuffer())


def read_state(
    path: str | os.PathLike[str], fmt: str, version: int | tuple[int, ...]
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by :func:`write_state`; check its format and version (one of
    ``version`` when a tuple: the caller converts older layouts)."""
    versions = version if isinstance(version, tuple) else (version,)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InvalidParameterError(f"{path}: no such state file.") from None
    except (ValueError, OSError) as exc:
        raise InvalidParameterError(f"{path}: not a {fmt!r} state file ({exc}).") from None
    if "meta_json" not in arrays:
        raise InvalidParameterError(f"{path}: not a {fmt!r} state file (no header).")
    meta = json.loads(arrays.pop("meta_json").tobytes().decode("utf-8"))
    if meta.get("format") != fmt or meta.get("version") not in versions:
        raise InvalidParameterError(
            f"{path}: expected format {fmt!r} version {' or '.join(map(str, versions))}. "
            f"Got {meta.get('format')!r} version {meta.get('version')!r} instead."
        )
    return arrays, meta


def copy_checked(path: Any, arrays: dict[str, np.ndarray], key: str, target: np.ndarray) -> None:
    """Copy ``arrays[key]`` into ``target`` after checking its dtype and shape."""
    arr = arrays.get(key)
    if arr is None or arr.shape != target.shape or arr.dtype != target.dtype:
        got = "missing" if arr is None else f"{arr.dtype}{arr.shape}"
        raise InvalidParameterError(
            f"{path}: array {key!r} must be {target.dtype}{target.shape}. Got {got} instead."
        )
    target[...] = arr
