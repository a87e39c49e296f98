import gzip

import numpy as np
import pytest

from crossbar import data
from devices import InvalidParameterError


def _have(name):
    try:
        data._find(name, None)
    except data.DatasetNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _have("mnist"), reason="MNIST files not available")
def test_mnist_counts_and_pixel_mean():
    x, y = data.load_dataset("mnist", "train")
    assert x.shape == (60_000, 28, 28) and x.dtype == np.uint8
    np.testing.assert_array_equal(
        np.bincount(y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    assert x.mean() == pytest.approx(33.318421449829934)
    xt, yt = data.load_dataset("mnist", "test")
    assert xt.shape == (10_000, 28, 28) and np.bincount(yt)[1] == 1135


@pytest.mark.skipif(not _have("fashion-mnist"), reason="Fashion-MNIST files not available")
def test_fashion_mnist_is_balanced():
    _, y = data.load_dataset("fashion-mnist", "test")
    np.testing.assert_array_equal(np.bincount(y), [1000] * 10)


def test_missing_dataset_says_where_to_put_the_files(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSBAR_DATA", str(tmp_path / "env"))
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_dataset("mnist", root=tmp_path / "a")
    message = str(info.value)
    assert str(tmp_path / "a" / "mnist") in message and "CROSSBAR_DATA" in message
    assert "train-images-idx3-ubyte.gz" in message and "--data" in message


def test_an_explicit_folder_is_the_only_one_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("CROSSBAR_DATA", str(tmp_path / "env"))
    assert data.search_paths(tmp_path / "root") == [tmp_path / "root"]
    assert data.search_paths() == [tmp_path / "env"]
    monkeypatch.delenv("CROSSBAR_DATA")
    paths = data.search_paths()
    assert paths[0].parts[-2:] == ("shared", "data") and paths[1].parts[-2:] == (
        "crossbar-sim",
        "data",
    )


@pytest.mark.skipif(not _have("mnist"), reason="MNIST files not available")
@pytest.mark.parametrize("kind", ["missing", "file", "empty", "env"])
def test_an_explicit_folder_without_the_dataset_is_an_error_not_a_fallback(tmp_path, monkeypatch,
                                                                           kind):  # fmt: skip
    """The default folders hold MNIST here; naming another folder must not fall back to them."""
    monkeypatch.delenv("CROSSBAR_DATA", raising=False)
    bad = {"missing": tmp_path / "nonexistent", "file": tmp_path / "f.txt",
           "empty": tmp_path, "env": tmp_path / "nonexistent"}[kind]  # fmt: skip
    (tmp_path / "f.txt").write_text("x")
    if kind == "env":
        monkeypatch.setenv("CROSSBAR_DATA", str(bad))
        root = None
    else:
        root = bad
    with pytest.raises(data.DatasetNotFoundError, match="mnist not found in"):
        data.load_dataset("mnist", "test", root=root)


def test_damaged_file_is_rejected(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in data._FILES.values():
        (folder / f).write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    with pytest.raises(InvalidParameterError, match="MD5"):
        data.load_dataset("mnist", root=tmp_path)


def test_permutation_is_fixed_per_seed_and_keeps_pixels():
    x = np.arange(2 * 16, dtype=np.uint8).reshape(2, 4, 4)
    a, b, c = data.permute_pixels(x, 1), data.permute_pixels(x, 1), data.permute_pixels(x, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(np.sort(a.reshape(2, -1), axis=1), x.reshape(2, -1))
    perm = a[0].ravel()  # first image is 0..15, so its permuted pixels are the permutation
    np.testing.assert_array_equal(a[1].ravel(), perm + 16)


@pytest.mark.parametrize("kwargs,match", [(dict(name="mnst"), "Did you mean 'mnist'"),
                                          (dict(split="val"), "'split'")])  # fmt: skip
def test_bad_names_are_rejected(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        data.load_dataset(**kwargs)
