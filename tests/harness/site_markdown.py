"""The Markdown extension that adds to every page what the test runs recorded.

Listed under ``markdown_extensions`` in mkdocs.yml, it runs wherever
Python-Markdown renders the pages: under MkDocs with Material for MkDocs, which
builds the published site, and under Zensical, Material's successor, which reads
the same mkdocs.yml and runs Python-Markdown extensions but no MkDocs hook
(``nox -s zensical`` builds the site with both and compares what this adds).

Before any other preprocessor, so that it reads the page as the test run does
(snippets not yet included), it hands the page's Markdown to ``render_page``, a
plain function of the page's text and the recordings under tests/snapshots:

- ``harness.run_in_browser``: the Run button's mark under each block the browser
  runs, the reason under one it does not, and under the title what runs where;
- ``harness.render_sql_tabs``: what each block printed and the SQL it sent, as
  each database's run recorded them, the pictures drawn from those recordings,
  the copy text of a ``>>>`` block, and under the title the page's script and the
  versions it was last verified with; on the home page, the verified-run table.

Last of the postprocessors, it leaves what a reader should not land on out of the
search index (``harness.example_files.out_of_search``), takes out of the
highlighted code the elements that change nothing a reader sees (``plain_tokens``),
and draws each code block's copy button into the page (``drawn_code_blocks``).

What it needs to know is which page it renders, and each engine says so its own
way; ``current_page`` is the only code that knows either:

- MkDocs registers, on the Markdown instance of each page, the treeprocessor
  that makes the page's links relative (``relpath``), which holds the page's file
  and the configuration; mkdocstrings finds the page the same way;
- Zensical registers a preprocessor that holds the rendering context
  (``rendering_context``): the page's path under docs/ and its address, and the
  configuration; Zensical's own extensions find the page the same way.

Markdown rendered inside a page that is not the page (a docstring, which an API
reference renders with mkdocstrings and these same extensions) is left as it is.
The files the site serves beside the pages (scripts, the Run buttons' runtime,
the examples) are not made here: ``harness.site_files`` writes them into docs/
before the build, for both engines to copy.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from markdown import Extension, Markdown
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor

from harness.example_files import out_of_search
from harness.pages import PageError
from harness.render_sql_tabs import with_recordings
from harness.run_in_browser import with_run_buttons

try:  # MkDocs reports a BuildError as its message alone, without a traceback.
    from mkdocs.exceptions import BuildError as _Reported
except ImportError:  # pragma: no cover - Zensical without MkDocs
    _Reported = Exception

#: Above pymdownx.snippets (32) and Python-Markdown's own (30 and below): first.
PREPROCESSOR_PRIORITY = 40
#: Below the one that puts raw HTML back (30): the page's final HTML.
POSTPROCESSOR_PRIORITY = 0
#: The treeprocessor mkdocstrings adds to the Markdown of a docstring, and only there.
DOCSTRING_MARK = "mkdocstrings_headings"


class SiteError(_Reported):
    """A page the site cannot show as written; the message names page and line."""


@dataclass(frozen=True)
class SitePage:
    """The page being rendered: its file under ``docs``, the project's ``root``
    (which holds tests/snapshots) and its address in the site (``engine/``)."""

    source: Path
    docs: Path
    root: Path
    url: str

    @property
    def name(self) -> str:
        """Its path under docs/: ``examples/notes.md``."""
        return self.source.relative_to(self.docs).as_posix()


#: Written into the page's content, so that it runs before the theme's own script,
#: which it changes: the search index is fetched when the reader reaches for search,
#: not at page load. Inline, because a script the page must fetch before it can go
#: on drawing would delay every page's first paint by a round trip.
SEARCH_ON_DEMAND = "javascripts/search-on-demand.js"


def render_page(markdown: str, page: SitePage) -> str:
    """The page's Markdown with what the runs recorded, as the site shows it."""
    markdown = with_run_buttons(markdown, page.source, page.docs, page.root, page.url)
    markdown = with_recordings(markdown, page.source, page.docs, page.root)
    return f"{inline_script(page.docs / SEARCH_ON_DEMAND)}\n\n{markdown}"


def inline_script(path: Path) -> str:
    """The script at ``path`` as one ``<script>`` element of raw HTML, without blank
    lines, which would end it as a Markdown block of HTML."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return "<script>\n" + "\n".join(lines) + "\n</script>"


def current_page(md: Markdown) -> SitePage | None:
    """The page ``md`` renders, as MkDocs or Zensical tells it; None for anything else."""
    if DOCSTRING_MARK in md.treeprocessors:
        return None
    if "relpath" in md.treeprocessors:  # MkDocs
        relpath = md.treeprocessors["relpath"]
        config, file = relpath.config, relpath.file
        root = Path(config["config_file_path"]).resolve().parent
        return SitePage(Path(file.abs_src_path), Path(config["docs_dir"]), root, file.url)
    if "rendering_context" in md.preprocessors:  # Zensical
        context = md.preprocessors["rendering_context"]
        root = Path(context.config["root_dir"]).resolve()
        docs = root / context.config["docs_dir"]
        return SitePage(docs / context.page.path, docs, root, context.page.url)
    return None


class _Recordings(Preprocessor):
    def run(self, lines: list[str]) -> list[str]:
        page = current_page(self.md)
        if page is None:
            return lines
        try:
            return render_page("\n".join(lines), page).split("\n")
        except PageError as error:  # one sentence naming the page, not a traceback
            raise SiteError(str(error)) from None


#: Pygments wraps every name ("n"), run of spaces ("w"), operator ("o") and
#: punctuation mark ("p") of a block in an element of its own: two thirds of a long
#: chapter's elements, each styled again every time the theme's script restyles the
#: page as it loads. Names and spaces the theme draws in the code's own colour, so
#: they lose nothing; operators and punctuation it greys, and here they take the
#: code's colour too, which leaves keywords, strings, numbers, comments and the
#: names of functions and classes to stand out, as before.
_PLAIN_TOKEN = re.compile(r'<span class="[nwop]">([^<]*)</span>')


def plain_tokens(html: str) -> str:
    """The page's HTML with the names, spaces, operators and punctuation of its code
    blocks as plain text."""
    return _PLAIN_TOKEN.sub(r"\1", html)


#: A highlighted code block as Pygments writes it, whose code the theme's script
#: finds by its place, the <code> right inside the <pre>.
_CODE_BLOCK = re.compile(r"<pre><span></span><code>(.*?)</code></pre>", re.DOTALL)
#: The theme's copy button, as its script draws it (the same classes, so the same
#: look), on the code it copies. Its script copies for any such button of the page.
_COPY_BUTTON = (
    '<nav class="md-code__nav"><button class="md-code__button" title="Copy to clipboard"'
    ' data-clipboard-target="#{id} > code" data-md-type="copy"></button></nav>'
)


def drawn_code_blocks(html: str) -> str:
    """The page's HTML with each code block's copy button in it, drawn by the build.

    The theme's script draws the button itself, for each <code> right inside a <pre>,
    as the page loads; block by block, it also measures the block, which lays out the
    whole page again each time: on the longest chapter, most of the time a phone waits
    for the page to answer (``nox -s bench``). Here the code sits one element deeper,
    in a ``code-text`` that holds its id, and the script leaves the block alone:
    tutorial.css gives it the theme's look for code in a block, and
    docs/javascripts/code-blocks.js lets the keyboard scroll a block too wide for
    the screen, as the theme's script did. The code says how many lines it has, so
    that tutorial.css can leave a block out of sight undrawn at its exact height.
    """
    numbers = itertools.count(1)

    def drawn(match: re.Match) -> str:
        code_id = f"__code-{next(numbers)}"
        lines = match[1].count("\n")  # each line of Pygments' output ends in one
        code = f'<code style="--lines: {lines}">{match[1]}</code>'
        code = f'<span class="code-text" id="{code_id}">{code}</span>'
        return f"<pre><span></span>{_COPY_BUTTON.format(id=code_id)}{code}</pre>"

    return _CODE_BLOCK.sub(drawn, html)


class _PageHtml(Postprocessor):
    def run(self, text: str) -> str:
        page = current_page(self.md)
        if page is None:
            return text
        return drawn_code_blocks(plain_tokens(out_of_search(text, page.name)))


class SiteExtension(Extension):
    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - Python-Markdown's name
        md.preprocessors.register(_Recordings(md), "tutorial_recordings", PREPROCESSOR_PRIORITY)
        md.postprocessors.register(_PageHtml(md), "tutorial_page_html", POSTPROCESSOR_PRIORITY)


def makeExtension(**kwargs) -> SiteExtension:  # noqa: N802 - Python-Markdown's name
    return SiteExtension(**kwargs)
