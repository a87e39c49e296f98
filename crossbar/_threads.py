"""Results that do not depend on the number of threads.

Three places where they did, and what is done here (on import of :mod:`crossbar.nn`, or first
thing in the ``crossbar`` command):

- numba and torch share OpenMP: starting numba's pool set torch's thread count to numba's
  (:func:`keep_torch_threads` starts it and gives torch its count back);
- MKL's float32 products round differently with the thread count for some shapes (e.g.
  (100, 784) @ (784, 64)): its strict conditional-numerical-reproducibility mode
  (``MKL_CBWR=AUTO,STRICT``, set unless the user set ``MKL_CBWR``; read by MKL at its first
  product, so it must be set before one) makes ``?gemm`` independent of the thread count, at
  no measurable cost here;
- torch's CPU batch norm splits its sums between threads:
  :class:`crossbar.nn.DeterministicBatchNorm1d`.
"""

from __future__ import annotations

import os

os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

import torch

__all__ = ["keep_torch_threads"]


def keep_torch_threads() -> None:
    """Start numba's thread pool now and give torch back its thread count.

    numba's OpenMP layer sets OpenMP's thread count to ``NUMBA_NUM_THREADS`` when its pool starts
    (at the first parallel kernel), and torch uses the same OpenMP runtime: torch's count then
    silently followed numba's, and with it torch's results (batch norm, reductions). Called when
    :mod:`crossbar.nn` is imported, before any kernel of a training run.
    """
    threads = torch.get_num_threads()
    try:
        from numba.np.ufunc import parallel

        parallel._launch_threads()
    except (ImportError, AttributeError):  # pragma: no cover - a numba without this hook
        return
    torch.set_num_threads(threads)
