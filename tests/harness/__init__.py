"""The harness that runs every python block of the site and checks what it sent.

One module for each job: ``pages`` finds the blocks of a page, ``databases`` gives
each page a namespace of its own on each backend, ``capture_sql`` records what a
block sent, ``snapshots`` keeps the committed SQL, ``pytest_plugin`` collects the
pages, ``links`` and ``page_checks`` check a page's text, ``page_scripts`` turns a
page into a program. ``site_markdown`` is the Markdown extension, run by MkDocs and
Zensical alike, through which ``render_sql_tabs`` shows the SQL to readers and
offers those programs, and draws, with ``draw_pictures``, the table diagrams and
charts that ``pictures`` has the run record, and ``run_in_browser`` marks the Run
buttons that run each chapter in the reader's browser, whose runs ``browser_runs``
checks; ``site_files`` writes the files the site serves beside its pages into docs/
before every build, ``site_engines`` compares the Zensical build with the MkDocs
build, and ``site_browser`` serves the built site to headless Chromium. ``bench``,
``mutations`` and ``repeat`` are run by the nox sessions of the same names.
"""
