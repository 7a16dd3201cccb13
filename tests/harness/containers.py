"""Throwaway database servers in Docker, for runs that have no URL to test on.

``noxfile.py`` loads this file by its path, in nox's own environment, so it
imports nothing but the standard library and testcontainers (with the ``docker``
package it brings); it takes the databases from ``backends.py`` as arguments.

A server is a container that testcontainers starts from the database's official
image (``backends.Backend.container_image``), or from the image standing in for
it when ``TUTORIAL_STANDIN_IMAGES`` is set (tests/standins: for machines that
cannot reach an image registry). It is removed when the ``with`` block ends,
however it ends: normally, by an exception, by Ctrl-C, or by SIGTERM or SIGHUP,
which raise KeyboardInterrupt for the while. A process killed with SIGKILL can
remove nothing; its containers carry a label naming the process, and the next
run on this machine removes every such container whose process is gone. So
testcontainers' own reaper (ryuk) is not needed: where its image cannot be
pulled, the run stops with a sentence saying to set
``TESTCONTAINERS_RYUK_DISABLED=true``.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager

#: The label on every container this project starts: "<host>:<process id>".
OWNER_LABEL = "io.github.sqlalchemy-proven.owner"
#: Set (to anything) to start the stand-in images instead of the official ones.
STANDINS_VARIABLE = "TUTORIAL_STANDIN_IMAGES"


class DockerUnavailable(Exception):
    """No throwaway server can be started; the message says why in one sentence."""


class ContainerFailed(DockerUnavailable):
    """Docker answers, yet the server could not be started: a problem to fix, not to skip."""


def image_of(backend, version: str) -> str:
    """The image that runs ``version`` of ``backend`` here."""
    template = backend.standin_image if os.environ.get(STANDINS_VARIABLE) else None
    return (template or backend.container_image).format(version=version)


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def throwaway_server(backend, version: str | None = None) -> Iterator[str]:
    """A URL of ``version`` of ``backend`` (its newest by default) in a new container."""
    version = version or backend.versions[-1]
    quiet_docker_logging()
    try:
        import docker
        from testcontainers.core.config import testcontainers_config
    except ImportError:
        raise DockerUnavailable("testcontainers is not installed in this environment") from None
    try:
        client = docker.from_env()
        client.ping()
    except Exception:
        raise DockerUnavailable("no Docker engine is answering here") from None
    try:
        remove_orphans(client)
        image = image_of(backend, version)
        _have_image(client, image, "the image")
        if not testcontainers_config.ryuk_disabled:
            _have_image(
                client,
                testcontainers_config.ryuk_image,
                "testcontainers' reaper image",
                advice="set TESTCONTAINERS_RYUK_DISABLED=true: this project removes "
                "its containers itself",
            )
        module, _, name = backend.container_class.partition(":")
        container_class = getattr(importlib.import_module(module), name)
        container = container_class(image, **backend.container_options)
        container.with_kwargs(labels={OWNER_LABEL: owner()})
        with _signals_raise_keyboard_interrupt():
            try:
                try:
                    container.start()
                except Exception as error:
                    raise ContainerFailed(
                        f"the {image} container did not start: {_first_line(error)}"
                    ) from None
                yield container.get_connection_url()
            finally:
                _remove(container)
    finally:
        client.close()


def _have_image(client, image: str, what: str, advice: str = "") -> None:
    import docker

    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    try:
        client.images.pull(image)
    except docker.errors.DockerException as error:
        reason = getattr(error, "explanation", None) or _first_line(error)
        sentence = f"{what} {image} is not here and could not be pulled ({reason})"
        raise ContainerFailed(f"{sentence}; {advice}" if advice else sentence) from None


def _remove(container) -> None:
    """Remove the container, if it was created; a second Ctrl-C cannot interrupt this."""
    wrapped = getattr(container, "_container", None)
    if wrapped is None:
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        wrapped.remove(force=True, v=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def remove_orphans(client) -> list[str]:
    """Remove the containers of processes of this machine that are gone (killed with SIGKILL)."""
    removed = []
    host = socket.gethostname()
    for container in client.containers.list(all=True, filters={"label": OWNER_LABEL}):
        their_host, _, pid = container.labels.get(OWNER_LABEL, "").rpartition(":")
        if their_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        container.remove(force=True, v=True)
        removed.append(container.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@contextmanager
def _signals_raise_keyboard_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run as Ctrl-C does, so that ``finally`` blocks run."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def quiet_docker_logging() -> None:
    """The Docker client's and testcontainers' debug lines are noise in a test run."""
    for name in ("docker", "urllib3", "testcontainers"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
