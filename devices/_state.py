"""State files of the device populations: one ``.npz`` of plain arrays plus a JSON header.

No pickle is involved in writing or reading; the header names the format and its version and
holds the SHA-256 of the arrays (checked on reading: a flipped byte is an error, not a silently
different population). Files are written under a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._validation import InvalidParameterError

__all__ = ["copy_checked", "digest", "read_state", "reading", "replace_atomically", "write_state"]


def digest(arrays: dict[str, np.ndarray], header: str = "") -> str:
    """SHA-256 of ``header`` then the arrays: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256(header.encode())
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        h.update(f"{key}|{arr.dtype.str}|{arr.shape}|".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def write_state(
    path: str | os.PathLike[str], fmt: str, version: int, meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:  # fmt: skip
    """Write ``arrays`` and the JSON header ``meta`` (plus format and version) to exactly ``path``."""
    header = {"format": fmt, "version": version, **meta, "sha256": digest(arrays)}
    payload = dict(arrays)
    payload["meta_json"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **payload)  # type: ignore[arg-type]
    replace_atomically(path, lambda tmp: Path(tmp).write_bytes(buf.getbuffer()))


def replace_atomically(path: str | os.PathLike[str], write: Any) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``: an
    interrupted write leaves the old file or the new one, never part of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    except Exception as exc:  # zip, zlib, npy and OS errors of a damaged or foreign file
        raise InvalidParameterError(
            f"{path}: not a {fmt!r} state file ({type(exc).__name__}: {exc})."[:400]
        ) from None
    if "meta_json" not in arrays:
        raise InvalidParameterError(f"{path}: not a {fmt!r} state file (no header).")
    odd = [k for k, v in arrays.items() if not isinstance(v, np.ndarray)]
    if odd:  # numpy hands members that are not .npy arrays back as bytes
        raise InvalidParameterError(f"{path}: member {odd[0]!r} is not an array.")
    try:
        meta = json.loads(arrays.pop("meta_json").tobytes().decode("utf-8"))
        if not isinstance(meta, dict):
            raise ValueError("the header is not a JSON object")
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidParameterError(f"{path}: damaged header ({exc}).") from None
    if "sha256" in meta and meta["sha256"] != digest(arrays):  # files of before: no hash
        raise InvalidParameterError(
            f"{path}: the arrays do not match the SHA-256 in the header: the file is damaged."
        )
    if meta.get("format") != fmt or meta.get("version") not in versions:
        raise InvalidParameterError(
            f"{path}: expected format {fmt!r} version {' or '.join(map(str, versions))}. "
            f"Got {meta.get('format')!r} version {meta.get('version')!r} instead."
        )
    return arrays, meta


def copy_checked(path: Any, arrays: dict[str, np.ndarray], key: str, target: np.ndarray,
                 finite: bool = False, low: float | None = None) -> None:  # fmt: skip
    """Copy ``arrays[key]`` into ``target`` after checking its dtype and shape (and, if asked,
    that its values are finite and ``>= low``)."""
    arr = arrays.get(key)
    if arr is None or arr.shape != target.shape or arr.dtype != target.dtype:
        got = "missing" if arr is None else f"{arr.dtype}{arr.shape}"
        raise InvalidParameterError(
            f"{path}: array {key!r} must be {target.dtype}{target.shape}. Got {got} instead."
        )
    if finite and not np.isfinite(arr).all():
        raise InvalidParameterError(f"{path}: array {key!r} holds non-finite values.")
    if low is not None and arr.size and arr.min() < low:
        raise InvalidParameterError(
            f"{path}: array {key!r} must be >= {low}. Got a minimum of {arr.min()} instead."
        )
    target[...] = arr


@contextlib.contextmanager
def reading(path: Any) -> Iterator[None]:
    """Inside, any error of rebuilding an object from a state file's header is an
    InvalidParameterError naming the file (a missing key, a wrong type, a bad value)."""
    try:
        yield
    except InvalidParameterError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError) as exc:
        raise InvalidParameterError(
            f"{path}: damaged state file ({type(exc).__name__}: {exc})."[:400]
        ) from None
