"""A chapter's python blocks, run one at a time in the reader's browser.

worker.mjs loads this module into Python compiled to WebAssembly (Pyodide) and
hands it the blocks of one page, in order, as tests/harness/run_in_browser.py
wrote them into the site. The blocks share one namespace, a module called
``__main__`` as a script's is. A plain block runs as a whole; a ``>>>`` block
runs example by example, as Python's prompt runs them, showing the value of
each expression that is not None. What a block prints comes back with it, and
so does the traceback of an error, with the page's own line numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import linecache
import sqlite3
import sys
import traceback
import types
from collections.abc import Callable
from contextlib import AbstractContextManager

#: Context managers entered around every block, by name; what each yields is
#: returned with the block's result under that name. The site adds none; the
#: browser tests add the SQL capture of the test suite here.
WATCHERS: dict[str, Callable[[], AbstractContextManager]] = {}


class _Printed(io.TextIOBase):
    """``sys.stdout`` for good: what it receives goes to the block running now.

    Whatever keeps hold of ``sys.stdout`` (the handler ``echo=True`` gives a
    logger, say) keeps this object, and so writes into whichever block runs.
    """

    def __init__(self, outside) -> None:
        self.outside = outside
        self.into: io.StringIO | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return (self.into or self.outside).write(text)


class Page:
    """One page's run: its namespace, and the lines of its blocks for tracebacks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.module = types.ModuleType("__main__")
        self.module.__file__ = name
        sys.modules["__main__"] = self.module
        self.lines: list[str] = []
        self.printed = _Printed(sys.stdout)
        self.errors = _Printed(sys.stderr)
        sys.stdout, sys.stderr = self.printed, self.errors

    def run(self, block: dict) -> dict:
        """Run one block: ``{"line", "code"}``, or ``{"line", "examples": [{"line", "source"}]}``.

        Returns what it printed (``printed``, or ``printed`` of each example),
        what it wrote to standard error, the traceback of an error (``error``),
        and what each watcher recorded.
        """
        result: dict = {"line": block["line"], "stderr": "", "error": None, "recorded": {}}
        errors = io.StringIO()
        try:
            with contextlib.ExitStack() as stack:
                recorded = {name: stack.enter_context(watch()) for name, watch in WATCHERS.items()}
                with self._into(self.errors, errors):
                    if "examples" in block:
                        result["examples"] = []
                        for example in block["examples"]:
                            printed = {
                                "line": example["line"],
                                "source": example["source"],
                                "printed": "",
                            }
                            result["examples"].append(printed)
                            printed["printed"] = self._run_example(example)
                    else:
                        result["printed"] = ""
                        result["printed"] = self._run_code(block["line"] + 1, block["code"])
        except _Failed as failed:
            if "examples" in block:
                result["examples"][-1]["printed"] = failed.printed
            else:
                result["printed"] = failed.printed
            result["error"] = failed.traceback
        result["stderr"] = errors.getvalue()
        result["recorded"] = {name: _plain(value) for name, value in recorded.items()}
        return result

    def _run_code(self, first_line: int, code: str) -> str:
        return self._execute(first_line, code, "exec")

    def _run_example(self, example: dict) -> str:
        # As the prompt does: an expression's value, unless None, is shown by
        # the display hook (doctest resets the hook to this one too).
        hook, sys.displayhook = sys.displayhook, sys.__displayhook__
        try:
            return self._execute(example["line"], example["source"], "single")
        finally:
            sys.displayhook = hook

    def _execute(self, first_line: int, source: str, mode: str) -> str:
        self._remember(first_line, source)
        printed = io.StringIO()
        try:
            with self._into(self.printed, printed):
                code = compile("\n" * (first_line - 1) + source, self.name, mode, dont_inherit=True)
                exec(code, self.module.__dict__)  # noqa: S102 - the page's own code
        except BaseException as error:  # noqa: BLE001 - shown to the reader, as Python would
            raise _Failed(printed.getvalue(), self._traceback(error)) from None
        return printed.getvalue()

    @contextlib.contextmanager
    def _into(self, stream: _Printed, buffer: io.StringIO):
        stream.into = buffer
        try:
            yield
        finally:
            stream.into = None

    def _remember(self, first_line: int, source: str) -> None:
        """Keep the block's lines at their lines of the page, for its tracebacks."""
        lines = source.splitlines(keepends=True)
        end = first_line - 1 + len(lines)
        self.lines += ["\n"] * (end - len(self.lines))
        self.lines[first_line - 1 : end] = [line.rstrip("\n") + "\n" for line in lines]
        linecache.cache[self.name] = (len("".join(self.lines)), None, self.lines, self.name)

    def _traceback(self, error: BaseException) -> str:
        """The traceback as Python prints it, from the page's first frame on."""
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != self.name:
            tb = tb.tb_next
        return "".join(traceback.format_exception(type(error), error, tb or error.__traceback__))


class _Failed(Exception):
    def __init__(self, printed: str, traceback: str) -> None:
        self.printed = printed
        self.traceback = traceback


def _plain(value):
    """A watcher's record as the page's script can send it: lists, dicts and text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value if isinstance(value, int | float | bool | type(None)) else str(value)


def start(page: str, scrypt_js) -> dict:
    """Make ``page``'s run, with ``hashlib.scrypt`` if this Python lacks it; says the versions."""
    if not hasattr(hashlib, "scrypt"):
        hashlib.scrypt = _scrypt_from(scrypt_js)
    global current
    current = Page(page)
    return {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}


current: Page | None = None

#: OpenSSL's limit on the memory scrypt may use when ``maxmem`` is 0, as CPython has it.
SCRYPT_DEFAULT_MAXMEM = 32 * 1024 * 1024


def _scrypt_from(scrypt_js):
    """``hashlib.scrypt`` as CPython has it, computed by @noble/hashes (RFC 7914).

    Pyodide's hashlib has no OpenSSL, and so no scrypt. The arguments are
    checked as CPython and OpenSSL check them, memory limit included, so a
    page that CPython would refuse is refused here too.
    """

    def scrypt(password, *, salt, n, r, p, maxmem=0, dklen=64):
        password, salt = _bytes(password), _bytes(salt)
        if n < 2 or n & (n - 1):
            raise ValueError("n must be a power of 2.")
        if not 0 <= maxmem <= 2**31 - 1:
            raise ValueError(f"maxmem must be positive and smaller than {2**31 - 1}")
        if not 0 < dklen <= 2**31 - 1:
            raise ValueError(f"dklen must be greater than 0 and smaller than {2**31 - 1}")
        # OpenSSL's EVP_PBE_scrypt: B takes 128*r*p bytes and V 128*r*(n+2).
        if r < 1 or p < 1:
            raise ValueError("Invalid parameter combination for n, r, p, maxmem.")
        limit = maxmem or SCRYPT_DEFAULT_MAXMEM
        if 128 * r * (n + p + 2) > limit:
            raise ValueError("[digital envelope routines] memory limit exceeded")
        from pyodide.ffi import to_js

        digest = scrypt_js(to_js(password), to_js(salt), n, r, p, dklen, limit)
        return digest.to_bytes()

    return scrypt


def _bytes(value) -> bytes:
    try:
        return bytes(memoryview(value))
    except TypeError:
        name = type(value).__name__
        raise TypeError(f"a bytes-like object is required, not '{name}'") from None
