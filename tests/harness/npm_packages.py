"""The npm packages the harness pins: installed with ``npm ci`` from their lock file.

Two folders of tests/ hold a package.json and its package-lock.json: the runtime
behind the site's Run buttons (tests/run-in-browser, ``harness.run_in_browser``)
and Lighthouse CI (tests/lighthouse, ``harness.lighthouse``). Each is installed
once, without install scripts, and again only when its lock file changes: the
digest of the lock it was installed from is kept in its node_modules.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from harness.pages import ROOT

_STAMP = ".installed-from-lock"


def install(folder: Path, needed_for: str, unavailable: type[Exception]) -> None:
    """The packages of ``folder``'s lock file, installed if need be; ``unavailable`` is
    raised, with one sentence, when they cannot be. ``needed_for`` says who needs them."""
    lock = folder / "package-lock.json"
    shown = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    stamp = folder / "node_modules" / _STAMP
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise unavailable(
            f"npm is not installed, and {needed_for} the packages of "
            f"{shown / 'package-lock.json'}: "
            "install Node.js (which brings npm) and run again"
        )
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        said = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise unavailable(f"`npm ci` in {shown} failed: {said}")
    stamp.write_text(digest)
