"""Lint every python block of docs/ and of the examples' docstrings with ruff.

Run by `nox -s lint`, not by the test sessions. A page's blocks build on each
other, so names defined by an earlier block are not errors here (F821);
blocks written as a session with ``>>>`` prompts are linted as the code a
reader would copy, without prompts and output.
"""

import re

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

RULES = ["E", "F", "W", "B", "UP", "S608"]
IGNORED = [
    "F821",  # defined by an earlier block of the same page
    "F811",  # a page may redefine a name to show a better version
    "B018",  # a bare expression is how a session shows a value
    "B015",  # and so is a bare comparison
    "E402",  # a block may import after an earlier block's code
    "E501",  # line length is checked by ruff format on files, not on prose blocks
    "F401",  # imported by one block, used by a later one
    "I001",  # a session block imports and uses in the same breath
    "F704",  # a block may await at its top level, as the asyncio prompt and Jupyter allow
]
_PROMPT = re.compile(r"^(>>> |\.\.\. |>>>$|\.\.\.$)")


def as_copied(example: CodeExample) -> CodeExample:
    """The code a reader copies from a ``>>>`` block: prompts and output removed."""
    if not example.source.lstrip().startswith(">>>"):
        return example
    lines = [
        _PROMPT.sub("", line) if _PROMPT.match(line) else "# " + line
        for line in example.source.splitlines()
    ]
    return CodeExample.create(
        "\n".join(lines) + "\n",
        path=example.path,
        start_line=example.start_line,
        prefix=example.prefix,
    )


_INCLUDE = re.compile(r"""^--8<--\s+["'][^"']+["']\s*$""")


def blocks_to_lint() -> list[CodeExample]:
    """Every python block, except those that only include a section of an example."""
    return [
        example
        for example in find_examples("docs", "examples")
        if not all(_INCLUDE.match(line.strip()) for line in example.source.strip().splitlines())
    ]


def without_includes(example: CodeExample) -> CodeExample:
    """Included sections are linted where they are written, in examples/."""
    lines = [
        "# " + line if _INCLUDE.match(line.strip()) else line
        for line in example.source.splitlines()
    ]
    return CodeExample.create(
        "\n".join(lines) + "\n", path=example.path, start_line=example.start_line
    )


@pytest.mark.parametrize("example", blocks_to_lint(), ids=str)
def test_block_passes_ruff(example: CodeExample, eval_example: EvalExample) -> None:
    eval_example.set_config(
        line_length=88, target_version="py310", ruff_select=RULES, ruff_ignore=IGNORED
    )
    eval_example.lint_ruff(as_copied(without_includes(example)))
