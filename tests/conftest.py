import numba
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def assert_thread_independent():
    """Run ``simulate()`` with 1 and with 2 numba threads; its arrays must be bit-identical."""

    def check(simulate):
        if numba.config.NUMBA_NUM_THREADS < 2:
            pytest.skip("numba has a single thread here")
        outputs = []
        for threads in (1, 2):
            numba.set_num_threads(threads)
            try:
                outputs.append(simulate())
            finally:
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        for x, y in zip(*outputs, strict=True):
            np.testing.assert_array_equal(x, y)

    return check


@pytest.fixture(autouse=True)
def _never_download(monkeypatch):
    """Tests never download: a dataset that is not beside the checkout is missing, and a test
    that needs it skips (the download code is tested against a server on 127.0.0.1, which
    lifts this for itself)."""
    monkeypatch.setenv("CROSSBAR_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _seed_torch():
    """Seed torch's global RNG per test: results must not depend on which tests ran before."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but devices tests need none
        return
    torch.manual_seed(0)
