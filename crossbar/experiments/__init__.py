"""The papers' experiments as one-command runs: ``crossbar run EXPERIMENT``.

Each experiment has a quick mode (a few tens of seconds on two cores; the tests run it) and a
full mode following its paper's protocol; see ``docs/validation.md`` for the commands, our
numbers beside the papers' and the runtimes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices import InvalidParameterError
from devices.support import closest

from . import bnn, mesu, qnn, weak_reset
from ._config import ExperimentConfig
from ._run import RunContext

__all__ = ["EXPERIMENTS", "Experiment", "ExperimentConfig", "RunContext", "run_experiment"]


@dataclass(frozen=True)
class Experiment:
    """One experiment: its configuration for a mode and seed, its size in steps, its run."""

    name: str
    summary: str
    config: Callable[[bool, int], ExperimentConfig]
    steps: Callable[[Any], int]
    run: Callable[[RunContext, Any, str | None], dict[str, Any]]


EXPERIMENTS = {
    e.name: e
    for e in (
        Experiment(
            "bnn-metaplastic",
            "Laborieux 2021 Fig. 1a: BNN MNIST -> Fashion-MNIST, m = 0 vs 1.5",
            bnn.bnn_metaplastic_config,
            bnn.bnn_metaplastic_steps,
            bnn.bnn_metaplastic,
        ),
        Experiment(
            "bnn-pmnist",
            "Laborieux 2021 Fig. 2: BNN on 6 permuted-MNIST tasks, m in {0, 0.5, 1, 1.35}",
            bnn.bnn_pmnist_config,
            bnn.bnn_pmnist_steps,
            bnn.bnn_pmnist,
        ),
        Experiment(
            "qnn-multilevel",
            "D'Agostino 2023: 2-layer QNN on the simulated 130 nm HfO2 "
            "crossbar vs software, MNIST -> Fashion-MNIST, m* sweep",
            qnn.qnn_multilevel_config,
            qnn.qnn_multilevel_steps,
            qnn.qnn_multilevel,
        ),
        Experiment(
            "weak-reset-ablation",
            "Majumdar 2021: BNN trained in situ on weak-RESET "
            "pairs, device imperfections one at a time",
            weak_reset.ablation_config,
            weak_reset.ablation_steps,
            weak_reset.ablation,
        ),
        Experiment(
            "mram-ber",
            "Hirtzlin 2019: a trained BNN stored in ST-MRAM at bit error "
            "rates 0 to 0.1, and the write-energy saving",
            bnn.mram_ber_config,
            bnn.mram_ber_steps,
            bnn.mram_ber,
        ),
        Experiment(
            "mesu-pmnist",
            "Bonnet 2025: MESU on permuted MNIST without task boundaries",
            mesu.mesu_pmnist_config,
            mesu.mesu_pmnist_steps,
            mesu.mesu_pmnist,
        ),
    )
}


#: Experiments whose networks are plain torch and may run on a GPU (``--device cuda``).
TORCH_DEVICE_EXPERIMENTS = ("bnn-metaplastic", "bnn-pmnist", "mram-ber")


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (a clear error listing the known ones otherwise)."""
    if name not in EXPERIMENTS:
        raise InvalidParameterError(
            f"Unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}."
            + closest(name, tuple(EXPERIMENTS))
        )
    return EXPERIMENTS[name]


def apply_overrides(name: str, config: ExperimentConfig,
                    overrides: dict[str, Any]) -> ExperimentConfig:  # fmt: skip
    """``config`` with ``overrides`` replacing its fields (clear errors for unknown fields and
    for values of another type than the default's): :meth:`ExperimentConfig.with_overrides`."""
    return config.with_overrides(name, overrides)


def run_experiment(name: str, quick: bool = False, out: str | os.PathLike[str] | None = None,
                   seed: int = 0, resume: bool = False, data: str | None = None,
                   progress: Callable[[int], Any] | None = None, device: str = "cpu",
                   overrides: dict[str, Any] | None = None,
                   force: bool = False,
                   prepare: Callable[[], Any] | None = None) -> dict[str, Any]:  # fmt: skip
    """Run one experiment; returns the ``results.json`` document.

    Parameters
    ----------
    name : str
        One of :data:`EXPERIMENTS`.
    quick : bool
        The quick mode (small network, subsampled data).
    out : path, optional
        Output folder; default ``results/NAME`` (``-quick`` appended in quick mode).
    seed : int
    resume : bool
        Continue an interrupted run in ``out``.
    data : path, optional
        Folder holding ``mnist/`` and ``fashion-mnist/`` (``crossbar.data`` search order if None).
    progress : callable, optional
        Called with the number of finished training steps.
    device : str
        Torch device (``"cpu"``, ``"cuda"``) of the experiments that train plain torch networks
        (:data:`TORCH_DEVICE_EXPERIMENTS`); the others simulate devices on the CPU.
    overrides : dict, optional
        Configuration fields replaced (``crossbar run --set KEY=VALUE``), e.g.
        ``{"arithmetic": "float32"}`` or ``{"meta": 3.0}``; each must be a field of the
        experiment's configuration and keep its type. They are part of the run's configuration
        (``results.json``; a resumed run must be given the same).
    force : bool
        Replace a run already in ``out`` (finished or not, of any experiment): its results,
        checkpoint and the files its ``results.json`` lists are removed first. Without it such a
        folder is an error (``resume`` continues an unfinished one instead).
    prepare : callable, optional
        Called once the configuration and the run folder have been checked, before the
        experiment starts (the command-line tool fetches missing datasets there, so that a bad
        argument or folder is reported before any download).
    """
    exp = get_experiment(name)
    if device != "cpu" and name not in TORCH_DEVICE_EXPERIMENTS:
        raise InvalidParameterError(
            f"--device {device}: {name} runs on the CPU (device simulation); only "
            f"{', '.join(TORCH_DEVICE_EXPERIMENTS)} take another torch device."
        )
    config = apply_overrides(name, exp.config(quick, seed), overrides or {})
    out = out if out is not None else os.path.join("results", name + ("-quick" if quick else ""))
    if resume and force:
        raise InvalidParameterError("--resume and --force exclude each other: --resume continues "
                                    "the run in --out, --force replaces it.")  # fmt: skip
    ctx = RunContext(name, out, config, resume=resume, progress=progress, device=device,
                     force=force)  # fmt: skip
    if prepare is not None:
        try:
            prepare()
        except BaseException:
            ctx.discard()  # nothing ran: no unfinished run left in the folder
            raise
    return exp.run(ctx, config, data)
