"""The repository stands alone: no file cites a document outside it, and every relative link of
the README and the guides points at a file of the repository. (The documentation site itself is
built with warnings as errors by the README's test command.)"""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the team's working documents, which users of the project do not have
OUTSIDE = re.compile(r"\b(SPEC|PAPERS|INTERFACE|STYLE)\.md\b|\bSPEC\s*§|shared/spec")
LINK = re.compile(r"\]\(([^)#\s]+)(#[^)\s]*)?\)")


def _tracked(*suffixes):
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()  # fmt: skip
    return [ROOT / n for n in names if n.endswith(suffixes)]


def test_no_file_cites_a_document_outside_the_repository():
    files = _tracked(".py", ".md", ".rst", ".toml", ".txt", ".cfg")
    assert len(files) > 50  # the listing worked
    hits = [f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for path in files if path.name != "test_docs.py"
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if OUTSIDE.search(line)]  # fmt: skip
    assert not hits, "\n".join(hits)


def test_the_checker_sees_an_outside_citation():
    assert OUTSIDE.search("see SPEC §1.1") and OUTSIDE.search("INTERFACE.md fixes the names")
    assert not OUTSIDE.search("docs/devices.md, Majumdar et al. 2021")


def test_relative_links_of_readme_and_guides_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        for target, _ in LINK.findall(page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(ROOT)} -> {target}")
    assert len(pages) >= 6
    assert not broken, broken


def test_only_devices_imports_its_private_modules():
    """Outside devices/, its helpers come from the documented devices.support (tests excepted:
    they check the private kernels themselves)."""
    import re

    private = re.compile(r"^\s*(from|import) devices\._")
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in _tracked(".py")
            if not str(p.relative_to(ROOT)).startswith(("devices/", "tests/"))
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if private.match(line)]  # fmt: skip
    assert not hits, hits
