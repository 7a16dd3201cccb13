"""Each page of the Worked examples section is its program: every named section of the
file, included in order, then the block that runs ``main(engine)``; and each file it offers
for download is one the site serves."""

import re
from pathlib import Path

import pytest
from harness.example_files import site_files
from harness.pages import DOCS, ROOT, python_blocks

#: Each program's page, and the files of examples/ it is made of, in the page's order.
PAGES = {
    "accounts.md": ["accounts.py"],
    "notes.md": ["notes.py"],
    "blog.md": ["blog.py"],
    "web-api.md": ["accounts.py", "accounts_api.py"],
}
#: Sections of a file that a page may leave out, with the reason.
LEFT_OUT = {
    # The web API uses the service; the listing is the previous page's.
    ("web-api.md", "accounts.py", "listing"),
    ("web-api.md", "accounts.py", "main"),
    ("web-api.md", "accounts.py", "utc"),  # inside "models", included with it
    ("accounts.md", "accounts.py", "utc"),
}
_START = re.compile(r"^[ \t]*# --8<-- \[start:([\w-]+)\]", re.MULTILINE)
_INCLUDE = re.compile(r"""^[ \t]*--8<--\s+["']examples/([\w.]+):([\w-]+)["']""", re.MULTILINE)


def sections(file: str) -> list[str]:
    return _START.findall((ROOT / "examples" / file).read_text())


def test_each_page_includes_every_section_of_its_program_in_order():
    problems = []
    for page, files in PAGES.items():
        text = (DOCS / "examples" / page).read_text()
        included = [(file, name) for file, name in _INCLUDE.findall(text) if file in files]
        expected = [
            (file, name)
            for file in files
            for name in sections(file)
            if (page, file, name) not in LEFT_OUT
        ]
        if included != expected:
            problems.append(f"docs/examples/{page} includes {included}, not {expected}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", list(PAGES))
def test_a_page_ends_by_running_main_and_offers_its_files(page):
    text = (DOCS / "examples" / page).read_text()
    blocks = [block for block in python_blocks(text) if block.skip is None]
    assert blocks[-1].source.rstrip().endswith("main(engine)")
    offered = re.findall(r"\]\(([\w.]+\.py)\)\{ download \}", text)
    served = site_files(ROOT)
    assert set(PAGES[page]) <= set(offered)
    assert all(f"examples/{name}" in served for name in offered), offered


def test_the_site_serves_every_example_file_and_no_package_marker():
    served = site_files(ROOT)
    files = {path.name for path in Path(ROOT / "examples").glob("*.py")}
    assert {name.removeprefix("examples/") for name in served} == files - {"__init__.py"}


def test_a_pages_script_installs_the_group_of_a_package_it_imports():
    """The web API's page imports FastAPI: its script's pip lines install the web group."""
    import tomllib

    from harness.page_scripts import _pip_argument, page_script

    group = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]["web"]
    wanted = " ".join(_pip_argument(requirement) for requirement in group)
    web = page_script(DOCS / "examples" / "web-api.md").text
    notes = page_script(DOCS / "examples" / "notes.md").text
    assert web.count(f'python -m pip install "sqlalchemy>=2.1,<2.2" {wanted}') == 3
    assert "fastapi" not in notes
