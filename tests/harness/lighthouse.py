"""Every page of the built site scored by Lighthouse, and held to its budgets.

Lighthouse CI (``@lhci/cli``, pinned in tests/lighthouse/package-lock.json and
installed there with ``npm ci`` on first use) scores each page in the system's
Chromium, with Lighthouse's mobile profile and simulated throttling, while the
site is served gzip-compressed on localhost as a static host serves it
(``harness.site_browser``). The budgets are the assertions of
tests/lighthouse/lighthouserc.json, the one place they are written: ``lhci
assert`` fails a page under any of them and names it, and ``nox -s bench``
prints each page's median of three runs beside them.

The browser tests (``tests/test_site.py``) score every page once and fail a page
under an enforced budget, with what ``lhci assert`` says of it; ``python -m
harness.lighthouse [SITE] [--runs=N]`` prints every page's scores against the
budgets. tests/lighthouse/package.json pins ``third-party-web`` to the version
Lighthouse itself takes: a package Lighthouse uses asks for its "latest", which
``npm ci`` would otherwise refuse as out of step with the lock file.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import yaml

from harness import npm_packages
from harness.pages import ROOT
from harness.site_browser import CHROMIUM_ARGS, build_site, chromium_path, serve, site_pages

FOLDER = ROOT / "tests" / "lighthouse"
CONFIG = FOLDER / "lighthouserc.yml"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


class LighthouseUnavailable(RuntimeError):
    """Lighthouse CI cannot run here; the message says what is missing."""


@dataclass(frozen=True)
class Budget:
    least: int  # out of 100
    enforced: bool  # "error" in lighthouserc.yml; "warn" is reported only


def budgets() -> dict[str, Budget]:
    """Each category's budget, as lighthouserc.yml asserts it."""
    assertions = yaml.safe_load(CONFIG.read_text())["ci"]["assert"]["assertions"]
    found = {}
    for name in CATEGORIES:
        level, options = assertions[f"categories:{name}"]
        found[name] = Budget(round(100 * options["minScore"]), level == "error")
    return found


def install() -> Path:
    """The ``lhci`` command of the pinned packages, installed with ``npm ci`` if need be."""
    npm_packages.install(FOLDER, "Lighthouse CI comes from", LighthouseUnavailable)
    if not Path(chromium_path()).is_file():
        raise LighthouseUnavailable(
            f"Lighthouse needs Chromium at {chromium_path()}: install Debian's chromium "
            "package, or point TUTORIAL_CHROMIUM at one"
        )
    return FOLDER / "node_modules" / ".bin" / "lhci"


def collect(urls: list[str], runs: int, results: Path) -> dict[str, dict[str, int]]:
    """Each of ``urls`` scored ``runs`` times by Lighthouse CI: the median run's scores
    by address. Lighthouse CI keeps its reports in ``results``, where ``verdicts`` reads them.
    """
    lhci = install()
    command = [str(lhci), "collect", f"--config={CONFIG}", f"--numberOfRuns={runs}"]
    command += [f"--url={url}" for url in urls]
    command += [f"--settings.chromeFlags={' '.join(CHROMIUM_ARGS)}"]
    result = _lhci(command, results)
    if result.returncode != 0:
        raise LighthouseUnavailable(
            f"Lighthouse CI could not score {', '.join(urls)}:\n{result.stderr[-3000:]}"
        )
    found: dict[str, list[dict[str, int]]] = {url: [] for url in urls}
    for report in (results / ".lighthouseci").glob("lhr-*.json"):
        lhr = json.loads(report.read_text())
        found[lhr["requestedUrl"]].append(
            {name: round(100 * lhr["categories"][name]["score"]) for name in CATEGORIES}
        )
    return {
        url: {name: statistics.median_low(run[name] for run in scores) for name in CATEGORIES}
        for url, scores in found.items()
    }


def verdicts(results: Path) -> dict[str, str]:
    """What ``lhci assert`` says of each page of the reports in ``results`` that falls
    short of an enforced budget, with the audits that cost it points, by address."""
    result = _lhci([str(install()), "assert", f"--config={CONFIG}"], results)
    if result.returncode == 0:
        return {}
    said = _ANSI.sub("", result.stdout + result.stderr)
    # One section a page: "2 result(s) for http://...:", then its failures and warnings.
    sections = re.split(r"^(?=\d+ result\(s\) for )", said, flags=re.MULTILINE)
    found = {}
    for section in sections:
        address = re.match(r"\d+ result\(s\) for (\S+)", section)
        if address and "failure for" in section:
            url = address.group(1)
            found[url] = "\n".join([section.strip(), *lost_points(results, url)])
    if not found:  # lhci failed, but on no page: say what it said
        raise LighthouseUnavailable(f"`lhci assert` failed:\n{said.strip()}")
    return found


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def lost_points(results: Path, url: str) -> list[str]:
    """Each audit that cost ``url`` points in an enforced category, in ``results``."""
    enforced = [name for name, budget in budgets().items() if budget.enforced]
    lines = []
    for report in sorted((results / ".lighthouseci").glob("lhr-*.json")):
        lhr = json.loads(report.read_text())
        if lhr["requestedUrl"] != url:
            continue
        for name in enforced:
            for ref in lhr["categories"][name]["auditRefs"]:
                audit = lhr["audits"][ref["id"]]
                if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                    lines.append(f"{name}: {ref['id']}: {audit['title']}")
    return lines


def _lhci(command: list[str], folder: Path) -> subprocess.CompletedProcess:
    environment = {**os.environ, "CHROME_PATH": chromium_path(), "FORCE_COLOR": "0"}
    return subprocess.run(command, cwd=folder, env=environment, capture_output=True, text=True)


def print_scores(scores: dict[str, dict[str, int]], runs: int) -> None:
    """A row of scores a page, under the row of budgets; "!" marks a score under its budget."""
    limits = budgets()
    print(
        "Lighthouse CI "
        + ("(one run a page)" if runs == 1 else f"(median of {runs} runs a page)")
        + ", mobile, simulated throttling"
    )
    print(f"{'page':<28}" + "".join(f"{name:>16}" for name in CATEGORIES))
    print(f"{'(budget)':<28}" + "".join(f"{limits[name].least:>16}" for name in CATEGORIES))
    for path, found in scores.items():
        marks = [
            f"{found[name]}{' !' if found[name] < limits[name].least else ''}"
            for name in CATEGORIES
        ]
        print(f"{'/' + path:<28}" + "".join(f"{mark:>16}" for mark in marks))


def print_site_scores(site: Path, runs: int) -> None:
    """Every page of ``site`` scored ``runs`` times, printed against its budgets."""
    paths = site_pages(site)
    with tempfile.TemporaryDirectory() as folder, serve(site, compress=True) as base_url:
        scores = collect([urljoin(base_url, path) for path in paths], runs, Path(folder))
    print_scores({path: scores[urljoin(base_url, path)] for path in paths}, runs)


def main(argv: list[str]) -> int:
    """``python -m harness.lighthouse [SITE] [--runs=N]``: every page, scored and printed."""
    runs = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--runs=")), 1)
    given = [a for a in argv if not a.startswith("--")]
    try:
        if given:
            print_site_scores(Path(given[0]), runs)
        else:
            with tempfile.TemporaryDirectory() as built:
                print_site_scores(build_site(Path(built)), runs)
    except LighthouseUnavailable as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
