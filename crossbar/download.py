"""Fetch MNIST and Fashion-MNIST from their official mirrors, checked by MD5.

``download(name)`` writes the four official IDX ``.gz`` files of a dataset to
``<dir>/<name>/`` (default ``dir``: the user cache ``~/.cache/crossbar-sim/data``, which
:mod:`crossbar.data` searches). Each file goes to a temporary file first and is moved into place
only once its MD5 matches the official one, so an interrupted or corrupted download never leaves
a file that looks valid. Files already present and valid are kept. Mirrors are tried in turn;
``mirror`` (or ``$CROSSBAR_DATA_MIRROR``) replaces them with one base URL laid out like the data
folder (``URL/mnist/train-images-idx3-ubyte.gz``, ``URL/fashion-mnist/...``).

The command line: ``crossbar data download [DATASET ...] [--dir DIR] [--mirror URL] [--force]``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from devices import InvalidParameterError
from devices.support import check_choice

from .data import _FILES, _MD5, DATASETS

__all__ = ["MIRRORS", "DownloadError", "default_dir", "download", "missing_files"]

#: The official mirrors, tried in order: torchvision's for MNIST (the original site,
#: yann.lecun.com, now refuses most clients) and Google's CVDF copy; Zalando's for Fashion-MNIST
#: (its S3 site and the files in its GitHub repository).
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

_CHUNK = 1 << 16


class DownloadError(InvalidParameterError):
    """A dataset file could not be fetched from any mirror (the message names the file, each
    mirror and what went wrong)."""


def default_dir() -> Path:
    """Where downloads go by default: ``~/.cache/crossbar-sim/data``."""
    return Path.home() / ".cache" / "crossbar-sim" / "data"


def _md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def missing_files(name: str, directory: str | os.PathLike[str] | None = None) -> list[str]:
    """The official files of ``name`` that are absent or invalid (MD5) in ``directory``."""
    folder = Path(directory or default_dir()) / name
    return [f for f in _FILES.values()
            if not (folder / f).is_file() or _md5_of(folder / f) != _MD5[(name, f)]]  # fmt: skip


def _urls(name: str, filename: str, mirror: str | None) -> list[str]:
    if mirror:
        return [f"{mirror.rstrip('/')}/{name}/{filename}"]
    return [base + filename for base in MIRRORS[name]]


def _fetch(url: str, target: Path, expected_md5: str, timeout: float,
           progress: Callable[[int], object] | None) -> None:  # fmt: skip
    """Download ``url`` to a temporary file beside ``target``; move it into place only if its
    length and MD5 are right. Raises OSError / ValueError with the reason otherwise."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        h = hashlib.md5()
        size = 0
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            declared = resp.headers.get("Content-Length")
            while block := resp.read(_CHUNK):
                out.write(block)
                h.update(block)
                size += len(block)
                if progress is not None:
                    progress(len(block))
        if declared is not None and size != int(declared):
            raise ValueError(f"the transfer stopped after {size:,} of {int(declared):,} bytes")
        if h.hexdigest() != expected_md5:
            raise ValueError(f"MD5 {h.hexdigest()} is not the official {expected_md5} "
                             f"({size:,} bytes received)")  # fmt: skip
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def download(name: str, directory: str | os.PathLike[str] | None = None,
             mirror: str | None = None, force: bool = False, timeout: float = 60.0,
             progress: Callable[[int], object] | None = None,
             on_file: Callable[[str, str], object] | None = None) -> Path:  # fmt: skip
    """Download the four official files of dataset ``name`` into ``directory/name``.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    directory : path, optional
        Data folder (default :func:`default_dir`); created if needed.
    mirror : str, optional
        One base URL laid out like the data folder, replacing :data:`MIRRORS` (default:
        ``$CROSSBAR_DATA_MIRROR`` if set).
    force : bool
        Download even the files already present and valid.
    timeout : float
        Seconds a connection may stay silent.
    progress : callable, optional
        Called with the number of bytes received (e.g. a tqdm bar's ``update``).
    on_file : callable, optional
        Called with ``(file name, url)`` before each download.

    Returns
    -------
    Path
        The dataset's folder.

    Raises
    ------
    DownloadError
        When a file cannot be fetched and checked from any mirror; nothing is left behind for it.
    """
    check_choice("name", name, DATASETS, "download")
    mirror = mirror or os.environ.get("CROSSBAR_DATA_MIRROR") or None
    folder = Path(directory or default_dir()) / name
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"cannot create {folder}: {exc.strerror or exc}") from None
    try:
        _fetch_all(name, folder, mirror, force, timeout, progress, on_file)
    except BaseException:  # an error, or Ctrl-C: no empty dataset folder left behind
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a folder named like the dataset, empty, would look like one
        raise
    return folder


def _fetch_all(name: str, folder: Path, mirror: str | None, force: bool, timeout: float,
               progress: Callable[[int], object] | None,
               on_file: Callable[[str, str], object] | None) -> None:  # fmt: skip
    for filename in _FILES.values():
        target = folder / filename
        expected = _MD5[(name, filename)]
        if not force and target.is_file() and _md5_of(target) == expected:
            continue
        failures = []
        for url in _urls(name, filename, mirror):
            if on_file is not None:
                on_file(filename, url)
            try:
                _fetch(url, target, expected, timeout, progress)
                break
            except urllib.error.HTTPError as exc:
                failures.append(f"{url}: HTTP {exc.code} {exc.reason}")
            except urllib.error.URLError as exc:
                failures.append(f"{url}: {exc.reason}")
            except (OSError, ValueError, http.client.HTTPException) as exc:  # bad URL, cut
                failures.append(f"{url}: {exc}")
        else:
            raise DownloadError(f"{name}/{filename} could not be downloaded: "
                                + "; ".join(failures)
                                + ". Nothing was written for it.")  # fmt: skip
