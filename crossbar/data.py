"""MNIST and Fashion-MNIST from the standard IDX ``.gz`` files, checksummed; permuted variants.

Where the files are looked for:

1. the ``root`` argument, if given: only there;
2. else the environment variable ``CROSSBAR_DATA``, if set: only there;
3. else ``shared/data`` beside this checkout (``../shared/data`` from the repository root), then
   the user cache ``~/.cache/crossbar-sim/data`` (the first holding the dataset wins).

A folder named explicitly (``root``, ``CROSSBAR_DATA``) that does not hold the dataset is an
error, never a silent fall-back to another copy.

Each is a folder with ``mnist/`` and ``fashion-mnist/`` sub-folders holding the four official
files (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``). The loaders never download; :mod:`crossbar.download` (``crossbar
data download``, and ``crossbar demo`` / ``crossbar run`` for a missing dataset) does.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

from devices import InvalidParameterError
from devices.support import check_choice

__all__ = ["DATASETS", "DatasetNotFoundError", "load_dataset", "permute_pixels", "search_paths"]

DATASETS = ("mnist", "fashion-mnist")
_FILES = {
    ("train", "images"): "train-images-idx3-ubyte.gz",
    ("train", "labels"): "train-labels-idx1-ubyte.gz",
    ("test", "images"): "t10k-images-idx3-ubyte.gz",
    ("test", "labels"): "t10k-labels-idx1-ubyte.gz",
}
#: MD5 of the official .gz files (torchvision's MNIST.resources / FashionMNIST.resources).
_MD5 = {
    ("mnist", "train-images-idx3-ubyte.gz"): "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    ("mnist", "train-labels-idx1-ubyte.gz"): "d53e105ee54ea40749a09fcbcd1e9432",
    ("mnist", "t10k-images-idx3-ubyte.gz"): "9fb629c4189551a2d022fa330f9573f3",
    ("mnist", "t10k-labels-idx1-ubyte.gz"): "ec29112dd5afa0611ce80d1b7f02629c",
    ("fashion-mnist", "train-images-idx3-ubyte.gz"): "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    ("fashion-mnist", "train-labels-idx1-ubyte.gz"): "25c81989df183df01b3e8a0aad5dffbe",
    ("fashion-mnist", "t10k-images-idx3-ubyte.gz"): "bef4ecab320f06d8554ea6380940ec79",
    ("fashion-mnist", "t10k-labels-idx1-ubyte.gz"): "bb300cfdad3c16e7a12a480ee83cd310",
}
_VERIFIED: set[Path] = set()


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the searched folders."""


def search_paths(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Folders searched for datasets, in order: ``root`` alone if given, else ``$CROSSBAR_DATA``
    alone if set, else the checkout's ``shared/data`` and the user cache."""
    if root is not None:
        return [Path(root)]
    if os.environ.get("CROSSBAR_DATA"):
        return [Path(os.environ["CROSSBAR_DATA"])]
    return [Path(__file__).resolve().parents[2] / "shared" / "data",
            Path.home() / ".cache" / "crossbar-sim" / "data"]  # fmt: skip


def _find(name: str, root: str | os.PathLike[str] | None) -> Path:
    searched = search_paths(root)
    for base in searched:
        folder = base / name
        if all((folder / f).is_file() for f in _FILES.values()):
            return folder
    if root is not None:
        where = f"root={str(root)!r} (--data)"
    elif os.environ.get("CROSSBAR_DATA"):
        where = f"CROSSBAR_DATA={os.environ['CROSSBAR_DATA']!r}"
    else:
        where = "the default folders"
    raise DatasetNotFoundError(
        f"{name} not found in {where}. Looked in: {', '.join(str(p / name) for p in searched)}. "
        f"Put the four "
        f"official IDX files ({', '.join(_FILES.values())}) in <folder>/{name}/ and pass "
        f"root=<folder> (crossbar demo --data <folder>) or set CROSSBAR_DATA=<folder>."
    )


def _read_idx(path: Path, dataset: str) -> np.ndarray:
    data = path.read_bytes()
    if path not in _VERIFIED:
        digest = hashlib.md5(data).hexdigest()
        expected = _MD5[(dataset, path.name)]
        if digest != expected:
            raise InvalidParameterError(
                f"{path}: MD5 {digest} does not match the official file ({expected}); the file is "
                "damaged or not the official release."
            )
        _VERIFIED.add(path)
    raw = gzip.decompress(data)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_dataset(
    name: str = "mnist",
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of MNIST or Fashion-MNIST.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    split : {"train", "test"}
    root : path, optional
        Folder holding ``mnist/`` and ``fashion-mnist/``; see the module docstring for the search
        order when omitted.
    """
    name = check_choice("name", name, DATASETS, "load_dataset")
    split = check_choice("split", split, ("train", "test"), "load_dataset")
    folder = _find(name, root)
    images = _read_idx(folder / _FILES[(split, "images")], name)
    labels = _read_idx(folder / _FILES[(split, "labels")], name)
    return images, labels


def permute_pixels(images: np.ndarray, seed: int) -> np.ndarray:
    """The permuted-MNIST task ``seed``: the same fixed pixel permutation applied to every image."""
    arr = np.asarray(images)
    flat = arr.reshape(arr.shape[0], -1)
    perm = np.random.default_rng(seed).permutation(flat.shape[1])
    return flat[:, perm].reshape(arr.shape)
