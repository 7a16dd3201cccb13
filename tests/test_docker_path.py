"""The Docker path: the throwaway servers `nox -s test` starts when no URL is set.

A throwaway server must let every page run (the harness's rights probe passes
on it), and its container must be gone afterwards however the run ends: normally,
by Ctrl-C, by SIGTERM, or (at the next run) after SIGKILL. A missing reaper image
is one sentence. These tests start real containers, so they run only when asked:
``TUTORIAL_DOCKER_TESTS=1`` (or ``required``, as CI sets it, which makes a missing
Docker engine a failure instead of a skip). Where no registry can be reached,
``TUTORIAL_STANDIN_IMAGES=1`` starts the images of tests/standins.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from harness import containers
from harness.backends import major
from harness.databases import SQLITE, check_reachable, check_rights, server_version

ASKED = os.environ.get("TUTORIAL_DOCKER_TESTS", "")
REQUIRED = ASKED == "required"


@pytest.fixture(scope="module")
def docker_client():
    if not ASKED:
        pytest.skip("starts containers: set TUTORIAL_DOCKER_TESTS=1 to run it")
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as error:
        if REQUIRED:
            pytest.fail(f"TUTORIAL_DOCKER_TESTS=required, and no Docker engine answers: {error}")
        pytest.skip("no Docker engine is answering here")
    yield client
    client.close()


def ours(client, pid: int) -> list[str]:
    """The containers of this project that process ``pid`` of this machine started."""
    owner = f"{containers.owner().rpartition(':')[0]}:{pid}"
    found = client.containers.list(all=True, filters={"label": containers.OWNER_LABEL})
    return [c.name for c in found if c.labels.get(containers.OWNER_LABEL) == owner]


def test_a_throwaway_server_passes_the_rights_probe(backend, docker_client) -> None:
    """Every page creates a namespace of its own: the user of the URL must be allowed to."""
    if backend is SQLITE:
        pytest.skip("SQLite needs no server")
    with containers.throwaway_server(backend) as url:
        check_reachable(backend, url)
        check_rights(backend, url)
        assert major(backend, server_version(url)) == backend.versions[-1]
        assert ours(docker_client, os.getpid())
    assert ours(docker_client, os.getpid()) == []


RUN_UNTIL_SIGNALLED = """\
import sys, time
sys.path.insert(0, {tests!r})
from harness import containers
from harness.backends import BY_NAME
with containers.throwaway_server(BY_NAME[{database!r}]) as url:
    print("started", flush=True)
    time.sleep(600)
"""


def start_and_signal(database: str, signum: int) -> int:
    """Start a throwaway server in a child process, signal it once it runs; its pid."""
    code = RUN_UNTIL_SIGNALLED.format(tests=os.path.dirname(__file__), database=database)
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C must reach it even when this run was started in the background
        # by a shell, which has its children ignore SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = child.stdout.readline()
    assert line == "started\n", child.stderr.read()
    child.send_signal(signum)
    child.wait(timeout=60)
    return child.pid


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_run_removes_its_container(backend, docker_client, signum) -> None:
    if backend.name != "postgresql":
        pytest.skip("shown on PostgreSQL: the clean-up is the same for every image")
    pid = start_and_signal(backend.name, signum)
    assert ours(docker_client, pid) == []


def test_the_container_of_a_killed_run_is_removed_by_the_next(backend, docker_client) -> None:
    if backend.name != "postgresql":
        pytest.skip("shown on PostgreSQL: the clean-up is the same for every image")
    pid = start_and_signal(backend.name, signal.SIGKILL)
    left = ours(docker_client, pid)
    assert left, "SIGKILL leaves the container, for the next run to remove"
    removed = containers.remove_orphans(docker_client)
    assert set(left) <= set(removed)
    assert ours(docker_client, pid) == []


def test_a_reaper_image_that_cannot_be_pulled_is_one_sentence(
    backend, docker_client, monkeypatch
) -> None:
    if backend is SQLITE:
        pytest.skip("SQLite needs no server")
    from testcontainers.core.config import testcontainers_config

    monkeypatch.setattr(testcontainers_config, "ryuk_disabled", False)
    monkeypatch.setattr(testcontainers_config, "ryuk_image", "tutorial-nowhere/ryuk:0")
    with pytest.raises(containers.ContainerFailed) as raised:
        with containers.throwaway_server(backend):
            pass
    sentence = str(raised.value)
    assert "\n" not in sentence
    assert sentence.startswith("testcontainers' reaper image tutorial-nowhere/ryuk:0 ")
    assert sentence.endswith(
        "set TESTCONTAINERS_RYUK_DISABLED=true: this project removes its containers itself"
    )
    assert ours(docker_client, os.getpid()) == []
