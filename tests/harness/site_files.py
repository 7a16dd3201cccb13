"""The files the site serves beside its pages, written into docs/ before every build.

MkDocs and Zensical both copy into the site, as it is, every file of docs/ that
is not a page; neither runs code of this project to add files of its own. So
this step writes them there first, and the engine that builds next finds them
like any other file, checks the links to them (the strict build), and serves them:

- ``scripts/<page>.py``: each chapter as one program (``harness.page_scripts``),
  which its page links under the title;
- ``examples/<file>.py``: the worked examples' programs, which their pages link
  (``harness.example_files``);
- ``run-in-browser/``: the Run buttons' runtime, what the worker loads, and the
  blocks of each chapter that run there (``harness.run_in_browser``), which it
  installs or downloads first when its lock files changed.

These files are made from the pages, the snapshots, ``examples/`` and the lock
files, never edited: .gitignore leaves them out, a file is rewritten only when
what it should hold changed, and one written by an earlier run that the site no
longer serves is removed. ``python -m harness.site_files`` writes them, as
``nox -s docs``, ``browser`` and ``zensical`` do before they build (and
``harness.site_browser.build_site``); ``python -m harness.site_files serve ARGS``
runs ``mkdocs serve ARGS`` and writes them again whenever what they are made
from changes, as ``nox -s serve`` does.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import example_files, run_in_browser
from harness.page_scripts import SCRIPTS_FOLDER, page_script, script_name
from harness.pages import ROOT, PageError, pages
from harness.run_in_browser import SITE_FOLDER

#: What this step writes under docs/, and nothing else is there: folders, and patterns.
GENERATED_FOLDERS = (
    SCRIPTS_FOLDER,
    *(f"{SITE_FOLDER}/{name}" for name in ("pyodide", "noble-hashes", "wheels", "pages")),
)
GENERATED_PATTERNS = (f"{SITE_FOLDER}/runtime.json", f"{example_files.FOLDER}/*.py")

#: What the files are made from, watched by ``serve``.
SOURCES = ("docs/**/*.md", "tests/snapshots/**/*.yml", "examples/*.py", "uv.lock")


def wanted(root: Path = ROOT) -> dict[str, Path | str]:
    """Each file the site serves beside its pages, by its path under docs/: its text, or
    the file to copy."""
    docs = root / "docs"
    files: dict[str, Path | str] = {}
    for source in pages(docs):
        script = page_script(source, root=root)
        if script is not None:
            files[script_name(source, docs)] = script.text
    files.update(example_files.site_files(root))
    files.update(run_in_browser.site_files(root, docs))
    return files


def generated(docs: Path) -> list[Path]:
    """Every file under ``docs`` that this step wrote, whenever it did."""
    found = [path for folder in GENERATED_FOLDERS for path in (docs / folder).rglob("*")]
    found += [path for pattern in GENERATED_PATTERNS for path in docs.glob(pattern)]
    return sorted(path for path in found if path.is_file())


def is_generated(path: Path, docs: Path) -> bool:
    """Whether ``path`` is (or would be) written by this step rather than by a contributor."""
    try:
        name = Path(path).relative_to(docs)
    except ValueError:
        return False
    within = any(name.is_relative_to(folder) for folder in GENERATED_FOLDERS)
    return within or any(name.match(pattern) for pattern in GENERATED_PATTERNS)


def write(root: Path = ROOT) -> list[str]:
    """Write every file the site serves beside its pages into docs/, and remove those it no
    longer serves; returns the paths under docs/ that changed."""
    run_in_browser.install(root)
    docs = root / "docs"
    files = wanted(root)
    changed = []
    # Builds run side by side (test workers): they take turns, and each file is replaced
    # whole, so that an engine copying it never reads half of it.
    with run_in_browser.locked(root / run_in_browser.RUNTIME / ".lock"):
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content.read_bytes()
            target = docs / name
            if target.is_file() and target.read_bytes() == data:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.partial")  # a dot: no engine copies it
            partial.write_bytes(data)
            partial.replace(target)
            changed.append(name)
        for path in generated(docs):
            name = path.relative_to(docs).as_posix()
            if name not in files:
                path.unlink()
                changed.append(name)
    return changed


def _sources_stamp(root: Path) -> tuple:
    paths = [path for pattern in SOURCES for path in root.glob(pattern)]
    return tuple(sorted((str(path), path.stat().st_mtime_ns) for path in paths))


def serve(arguments: list[str], root: Path = ROOT) -> int:
    """``mkdocs serve``, with the files written before it starts and whenever what they are
    made from changes (it then rebuilds, as for any change in docs/)."""
    write(root)
    server = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", *arguments], cwd=root)
    # Stopped by a signal, as by Ctrl-C: the server stops with it (below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    seen = _sources_stamp(root)
    try:
        while server.poll() is None:
            time.sleep(1)
            now = _sources_stamp(root)
            if now != seen:
                seen = now
                try:
                    write(root)
                except (PageError, run_in_browser.RuntimeUnavailable) as error:
                    print(f"The site's files were not written: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        server.terminate()
        server.wait()
    return server.returncode


def main(arguments: list[str]) -> int:
    try:
        if arguments[:1] == ["serve"]:
            return serve(arguments[1:])
        changed = write()
    except (PageError, run_in_browser.RuntimeUnavailable) as error:
        print(f"The site's files could not be written: {error}", file=sys.stderr)
        return 1
    print(f"The site's files are in docs/ ({len(changed)} written or removed).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
