"""What every experiment shares: the output folder, checkpoints, results files and progress.

A run writes into ``DIR``:

- ``checkpoint.json`` while it runs: the experiment, its configuration, and the results of every
  finished unit (an arm such as ``m = 0``, or a task); ``checkpoint_state.pt`` the tensors of the
  unit in progress (model and optimizer ``state_dict``s, loaded back with
  ``torch.load(weights_only=True)``: no pickle);
- ``results.json`` at the end (``experiment``, ``config``, ``metrics``, ``paper``, ``seconds``),
  ``results.md`` (the metrics beside the paper's, as a markdown table) and PNG plots.

``--resume`` continues from the checkpoint: finished units are not run again and the unit in
progress restarts from its last saved state (the last finished epoch or task; experiments whose
units save no state, such as ``weak-reset-ablation``'s variants, restart the unit), so an
interrupted run ends with the same numbers as an uninterrupted one (tested).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numba
import numpy as np
import torch

from devices import InvalidParameterError

from .._files import replace_atomically, save_png

__all__ = ["RunContext"]

#: Configuration fields added after runs were already checkpointed, with the value those runs
#: used: a checkpoint without the field resumes as if it had it.
_ADDED_FIELDS = {"arithmetic": "auto"}

_CHECKPOINT = "checkpoint.json"
_STATE_GLOB = "checkpoint_state*.pt*"
_LEGACY_STATE = "checkpoint_state.pt"  # the name before states were named by their hash
_HEX = frozenset("0123456789abcdef")


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """``checkpoint.json``, every field checked; InvalidParameterError naming the file and the
    field otherwise."""

    def bad(field: str, what: str) -> InvalidParameterError:
        return InvalidParameterError(f"{path}: {field} {what}; the file is damaged (delete the "
                                     "run folder, or start over with --force).")  # fmt: skip

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise bad("the file", "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise bad("the file", f"is not JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise bad("the file", "is not a JSON object")
    if not isinstance(doc.get("experiment"), str):
        raise bad("'experiment'", "is missing or not a string")
    if not isinstance(doc.get("config"), dict):
        raise bad("'config'", "is missing or not an object")
    if not isinstance(doc.get("units"), dict):
        raise bad("'units'", "is missing or not an object")
    seconds = doc.get("seconds", 0.0)
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not (math.isfinite(seconds) and seconds >= 0)
    ):
        raise bad("'seconds'", f"must be a finite number >= 0, not {seconds!r}")
    files = doc.get("files", [])
    if not isinstance(files, list) or not all(isinstance(f, str) and _plain_name(f)
                                              for f in files):  # fmt: skip
        raise bad("'files'", "must be a list of plain file names")
    state = doc.get("state")
    if state is not None and not (
        isinstance(state, dict)
        and isinstance(state.get("key"), str)
        and isinstance(state.get("file"), str)
        and _plain_name(state["file"])
        and state["file"].startswith("checkpoint_state-")
        and isinstance(state.get("sha256"), str)
        and len(state["sha256"]) == 64
        and set(state["sha256"]) <= _HEX
    ):
        raise bad("'state'", "must be null or {file, key, sha256} of a state file")
    return doc


def _plain_name(name: str) -> bool:
    """A file name without folders (what a run may list, and later remove, in its folder)."""
    return bool(name) and name not in (".", "..") and Path(name).name == name and "\\" not in name


def _atomic_write(path: Path, text: str) -> None:
    replace_atomically(path, lambda tmp: Path(tmp).write_text(text))


class RunContext:
    """One run of one experiment (see the module docstring).

    Parameters
    ----------
    experiment : str
    out : path
        Output folder (created).
    config : dict
        JSON-ready configuration; a resumed run must have the same.
    resume : bool
        Continue the checkpoint in ``out`` (an error if there is none, or if it is of another
        experiment or configuration). Without it, a folder holding an unfinished run is an error:
        nothing is overwritten silently.
    progress : callable, optional
        Called with the number of finished steps (e.g. a tqdm bar's ``update``).
    device : str
        Torch device of the experiments that train plain torch networks (``"cpu"``, ``"cuda"``);
        checkpoints are stored and loaded on the CPU, so a run may resume on another device.
    force : bool
        Replace a finished or unfinished run in ``out`` (its ``results.*``, checkpoint and the
        files listed in its ``results.json``); without it such a folder is an error.
    """

    def __init__(self, experiment: str, out: str | os.PathLike[str], config: dict[str, Any],
                 resume: bool = False, progress: Callable[[int], Any] | None = None,
                 device: str = "cpu", force: bool = False) -> None:  # fmt: skip
        self.experiment = experiment
        try:
            self.device = torch.device(device)
            if self.device.type not in ("cpu", "cuda", "mps"):
                raise RuntimeError
        except (RuntimeError, TypeError):
            raise InvalidParameterError(
                f"The 'device' parameter must be a torch device such as 'cpu' or 'cuda'. "
                f"Got {device!r} instead."
            ) from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise InvalidParameterError("--device cuda: no CUDA device is available here.")
        self.out = Path(out)
        if hasattr(config, "to_dict"):  # an ExperimentConfig
            config = config.to_dict()
        self.config = json.loads(json.dumps(config))  # JSON-ready, as it will be read back
        self.progress = progress or (lambda n: None)
        self.start = time.perf_counter()
        self.resume = resume
        self._made_folder = not self.out.exists()
        self.out.mkdir(parents=True, exist_ok=True)
        ckpt = self.out / _CHECKPOINT
        self.units: dict[str, Any] = {}
        self.files: set[str] = set()  # written into out by this run (results.json lists them)
        self.state: dict[str, str] | None = None  # the in-progress state file: name, key, hash
        self.elapsed = 0.0
        if not resume:
            self._clear_old_run(force)
        if resume:
            if not ckpt.exists():
                done = (self.out / "results.json").exists()
                raise InvalidParameterError(
                    f"--resume: {self.out} holds a finished run, nothing to resume (--force "
                    "without --resume replaces it)." if done else
                    f"--resume: {self.out} holds no checkpoint ({_CHECKPOINT}) to resume; run "
                    "without --resume to start."
                )  # fmt: skip
            doc = _read_checkpoint(ckpt)
            saved = doc.get("config")
            if isinstance(saved, dict):  # made before a field existed: it ran with the default
                saved = {**{k: v for k, v in _ADDED_FIELDS.items() if k in self.config}, **saved}
            if doc.get("experiment") != experiment or saved != self.config:
                raise InvalidParameterError(
                    f"--resume: the checkpoint in {self.out} is of {doc.get('experiment')!r} with "
                    f"config {doc.get('config')}; this run is {experiment!r} with {self.config}."
                )
            self.units = doc["units"]
            self.files = set(doc.get("files", []))
            self.state = doc.get("state")
            self.elapsed = float(doc.get("seconds", 0.0))
        else:
            self._write_checkpoint()

    def discard(self) -> None:
        """Undo a fresh start that never ran (its preparation failed): remove the checkpoint it
        wrote, and the folder if this run made it and nothing else is in it. A resumed run's
        checkpoint is never touched."""
        if self.resume or self.units or self.state is not None:
            return
        (self.out / _CHECKPOINT).unlink(missing_ok=True)
        if self._made_folder and self.out.is_dir() and not any(self.out.iterdir()):
            self.out.rmdir()

    def _clear_old_run(self, force: bool) -> None:
        """Refuse (or with ``force`` remove) a run already in ``out``: nothing is replaced
        silently, and no file of an older run is left beside the new one's."""
        ckpt, results = self.out / _CHECKPOINT, self.out / "results.json"
        if not (ckpt.exists() or results.exists()):
            return
        what = "an unfinished run (checkpoint.json)" if ckpt.exists() else "a finished run"
        try:
            old = json.loads((ckpt if ckpt.exists() else results).read_text())
            if not isinstance(old, dict):
                raise ValueError
        except (ValueError, OSError):
            old = {}
        name = old.get("experiment")
        if not force:
            hint = "--resume to continue it, " if ckpt.exists() else ""
            raise InvalidParameterError(
                f"{self.out} holds {what} of {name!r}; pass {hint}--force to replace it, or "
                "choose another --out."
            )
        files = old.get("files", []) if isinstance(old.get("files"), list) else []
        for f in {*files, "results.json", "results.md", _CHECKPOINT}:
            if isinstance(f, str) and _plain_name(f):
                (self.out / f).unlink(missing_ok=True)
        self._remove_states()

    def _remove_states(self, keep: str | None = None) -> None:
        for path in self.out.glob(_STATE_GLOB):
            if path.name != keep:
                path.unlink(missing_ok=True)

    # -- units -------------------------------------------------------------------------------------
    def done(self, key: str) -> Any:
        """The stored result of a finished unit, or None."""
        return self.units.get(key)

    def finish(self, key: str, result: Any) -> Any:
        """Record a finished unit (JSON-ready result) and drop the in-progress state."""
        self.units[key] = json.loads(json.dumps(result))
        self.state = None
        self._write_checkpoint()
        self._remove_states()
        return self.units[key]

    def save_state(self, key: str, state: dict[str, Any]) -> None:
        """Save the in-progress state of unit ``key`` (tensors, numbers, strings, lists, dicts).

        The file is named after its SHA-256 and written in full before ``checkpoint.json``
        points to it (name, key, hash); the previous state file is removed after. An interrupted
        save leaves the previous pair intact, and a damaged file is detected on load.
        """
        buf = io.BytesIO()
        torch.save({"key": key, "state": state}, buf)
        data = buf.getbuffer()
        digest = hashlib.sha256(data).hexdigest()
        name = f"checkpoint_state-{digest[:16]}.pt"
        tmp = self.out / (name + ".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, self.out / name)
        self.state = {"file": name, "key": key, "sha256": digest}
        self._write_checkpoint()
        self._remove_states(keep=name)

    def load_state(self, key: str) -> dict[str, Any] | None:
        """The saved in-progress state of unit ``key``, or None; its hash is checked."""
        info = self.state
        if info is None:
            legacy = self.out / _LEGACY_STATE  # saved before states carried a hash
            if not legacy.exists():
                return None
            path, data = legacy, legacy.read_bytes()
        else:
            if info["key"] != key:
                return None
            path = self.out / info["file"]
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise InvalidParameterError(
                    f"{path}: the in-progress state that {self.out / _CHECKPOINT} names cannot "
                    f"be read ({exc.strerror or exc}); the run cannot resume from it."
                ) from None
            digest = hashlib.sha256(data).hexdigest()
            if digest != info["sha256"]:
                raise InvalidParameterError(
                    f"{path}: SHA-256 {digest} does not match {info['sha256']} recorded in "
                    f"{_CHECKPOINT}: the file is damaged; the run cannot resume from it."
                )
        try:
            doc = torch.load(io.BytesIO(data), weights_only=True, map_location="cpu")
            if not isinstance(doc, dict) or not isinstance(doc.get("state"), dict):
                raise ValueError("not a checkpoint state")
        except Exception as exc:  # torch raises many kinds for a damaged file
            raise InvalidParameterError(
                f"{path}: not a readable checkpoint state ({type(exc).__name__}: {exc})"[:500]
            ) from None
        return doc["state"] if doc.get("key") == key else None

    def _write_checkpoint(self) -> None:
        doc = {"experiment": self.experiment, "config": self.config, "units": self.units,
               "seconds": self.seconds, "files": sorted(self.files),
               "state": self.state}  # fmt: skip
        _atomic_write(self.out / _CHECKPOINT, json.dumps(doc, indent=1))

    @property
    def seconds(self) -> float:
        """Wall time of the run so far, over all its sessions."""
        return self.elapsed + time.perf_counter() - self.start

    # -- results -----------------------------------------------------------------------------------
    def write_results(self, metrics: dict[str, float], paper: dict[str, float],
                      notes: str = "") -> dict[str, Any]:  # fmt: skip
        """Write ``results.json`` and ``results.md``; remove the checkpoint."""
        for name, value in metrics.items():
            if not isinstance(value, (int, float)):
                raise TypeError(f"metric {name!r} is not a number: {value!r}")
        doc = {
            "experiment": self.experiment,
            "config": self.config,
            "metrics": metrics,
            "paper": paper,
            "seconds": round(self.seconds, 1),
            "files": sorted(self.files | {"results.json", "results.md"}),
            # for the record: the results do not depend on them (tests/test_experiments.py)
            "threads": {
                "torch": torch.get_num_threads(),
                "numba": numba.get_num_threads(),
                "MKL_CBWR": os.environ.get("MKL_CBWR", ""),
            },
        }
        _atomic_write(self.out / "results.json", json.dumps(doc, indent=2))
        lines = [f"# {self.experiment}", "", f"Config: `{json.dumps(self.config)}`", "",
                 "| metric | ours | paper |", "|---|---|---|"]  # fmt: skip
        for name, value in metrics.items():
            ref = paper.get(name)
            lines.append(f"| `{name}` | {_fmt(value)} | {'' if ref is None else _fmt(ref)} |")
        if notes:
            lines += ["", notes]
        _atomic_write(self.out / "results.md", "\n".join(lines) + "\n")
        (self.out / _CHECKPOINT).unlink(missing_ok=True)
        self._remove_states()
        return doc

    def output(self, name: str) -> Path:
        """``out / name``, recorded as a file of this run (``results.json``'s ``"files"``, removed
        when a later run replaces this one with ``force``)."""
        if not _plain_name(name):
            raise ValueError(f"output names are plain file names; got {name!r}")
        self.files.add(name)
        if (self.out / _CHECKPOINT).exists():  # an unfinished run: its checkpoint lists it
            self._write_checkpoint()
        return self.out / name

    def save_npz(self, name: str, **arrays: Any) -> None:
        """``np.savez`` to ``out / name`` (a file of this run), under a temporary name first."""

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

        replace_atomically(self.output(name), write)

    def save_tensors(self, name: str, obj: Any) -> None:
        """``torch.save`` to ``out / name`` (a file of this run), under a temporary name first."""
        replace_atomically(self.output(name), lambda tmp: torch.save(obj, tmp))

    @contextmanager
    def figure(self, name: str, *subplots: int, **kwargs: Any) -> Iterator[Any]:
        """The axes of a matplotlib figure saved as ``DIR/name`` (PNG) on exit."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(*(subplots or (1, 1)), **kwargs)
        try:
            yield axes
            fig.tight_layout()
            save_png(fig, self.output(name), dpi=110)
        finally:
            plt.close(fig)


def _fmt(value: float) -> str:
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1):
        return f"{int(value):,}"
    return f"{value:.4g}"
