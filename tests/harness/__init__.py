"""The harness that runs every python block of the site and checks what it sent.

One module for each job: ``pages`` finds the blocks of a page, ``databases`` gives
each page a namespace of its own on each backend, ``capture_sql`` records what a
block sent, ``snapshots`` keeps the committed SQL, ``pytest_plugin`` collects the
pages, ``links`` and ``page_checks`` check a page's text, ``page_scripts`` turns a
page into a program, ``render_sql_tabs`` is the mkdocs hook that shows the SQL to
readers and offers those programs, and draws, with ``draw_pictures``, the table
diagrams and charts that ``pictures`` has the run record; ``run_in_browser`` is the
mkdocs hook behind the Run buttons that run each chapter in the reader's browser, whose runs
``browser_runs`` checks, and ``site_browser`` serves the built site to headless
Chromium. ``bench``, ``mutations`` and ``repeat`` are run by the nox
sessions of the same names.
"""
