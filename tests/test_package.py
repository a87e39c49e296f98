"""The distribution: an sdist and a wheel built from the package files alone install into a
fresh virtual environment and run from another folder (no repository, no data beside it)."""

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(argv, cwd, timeout=300):
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="venv layout of POSIX systems")
def test_the_wheel_installs_and_runs_without_the_repository(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    for package in ("crossbar", "devices", "calibration"):
        shutil.copytree(ROOT / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))  # fmt: skip
    # python -m build makes the sdist, then the wheel from the unpacked sdist: a file missing from
    # the sdist breaks the wheel. No isolation: setuptools comes from this environment, offline.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", "dist", "."], src)
    wheel = next((src / "dist").glob("crossbar_sim-*.whl"))
    sdist = next((src / "dist").glob("crossbar_sim-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "pyproject.toml", "README.md", "crossbar/cli/__init__.py",
            "devices/presets.py", "calibration/io.py"} <= names  # fmt: skip

    venv = tmp_path / "venv"  # the dependencies (torch, numba...) come from this environment
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    python, crossbar = venv / "bin" / "python", venv / "bin" / "crossbar"
    _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
          "--force-reinstall", str(wheel)], tmp_path)  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = _run([str(python), "-c", "import crossbar, devices, calibration; "
                  "print(crossbar.__file__, devices.__file__, calibration.__file__)"], elsewhere)  # fmt: skip
    assert all(str(venv) in path for path in where.split())  # the wheel's, not the checkout's
    assert _run([str(crossbar), "--version"], elsewhere).strip().startswith("crossbar-sim ")
    doc = json.loads(_run([str(crossbar), "device", "simulate", "--model", "multilevel",
                           "--devices", "64", "--json"], elsewhere))  # fmt: skip
    assert doc["cells"] == 64
    meta = _run([str(python), "-c", "import importlib.metadata as m; d = m.metadata('crossbar-sim');"
                 "print(d['Requires-Python']); print(d['License-Expression']); "
                 "print(d.get_all('License-File')); print(d.get_all('Project-URL'))"],
                elsewhere)  # fmt: skip
    assert ">=3.10" in meta and "BSD-3-Clause" in meta
    assert "LICENSE" in meta
    assert all(f"{label}, https://" in meta for label in ("Documentation", "Source", "Issues"))
