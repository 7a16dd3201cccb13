"""Run the whole suite several times, in random orders, and look for what it left.

Each run shuffles the files with a fresh seed (printed, so that a failure can
be repeated with ``pytest --shuffle-pages=SEED``), uses two xdist workers, and
runs on every configured database. After each run the servers are searched for
schemas or databases of ours. ``nox -s repeat`` calls this.
"""

from __future__ import annotations

import random
import subprocess
import sys

from harness.databases import BACKENDS, BY_NAME, configured_url, leftovers
from harness.pages import ROOT


def main(runs: int) -> int:
    backends = [BY_NAME[name] for name in BACKENDS if configured_url(BY_NAME[name])]
    failed_runs = 0
    left_behind: list[str] = []
    for number in range(1, runs + 1):
        seed = random.SystemRandom().randrange(10**6)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        command += [f"--backend={backend.name}" for backend in backends]
        command += ["--numprocesses=2", "--dist=loadfile", f"--shuffle-pages={seed}"]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
        found = [
            name for backend in backends for name in leftovers(backend, configured_url(backend))
        ]
        left_behind += found
        failed_runs += result.returncode != 0
        print(f"run {number} of {runs}, --shuffle-pages={seed}: {summary}; leftovers: {len(found)}")
        if result.returncode != 0:
            print(result.stdout[-4000:])
    names = ", ".join(backend.name for backend in backends)
    print(f"\n{runs} runs on {names}: {failed_runs} failed, {len(left_behind)} leftovers")
    return 1 if failed_runs or left_behind else 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
