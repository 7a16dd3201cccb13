"""Build the Docker images that stand in for the official postgres and mariadb images in CI.

These images exist only because CI cannot reach an image registry. Contributors use the official
images (postgres:15, postgres:17, mariadb:10.11, mariadb:11.8), which testcontainers pulls itself.

Each stand-in is a Debian root filesystem made by debootstrap (bookworm for PostgreSQL 15 and
MariaDB 10.11, trixie for PostgreSQL 17 and MariaDB 11.8) with Debian's server package, imported
with `docker import` under the tag `tutorial-standin/postgres:17` (and so on). Its entrypoint keeps
the part of the official image's contract that testcontainers and the tests use:

- postgres: POSTGRES_USER (default postgres), POSTGRES_PASSWORD, POSTGRES_DB (default: the user);
  a cluster in /var/lib/postgresql/data with LANG=en_US.utf8 and UTF8; scram-sha-256 for TCP
  connections, trust over the local socket; the server on all addresses, port 5432, as the
  container's main process; `psql --host 127.0.0.1` inside the container, which testcontainers
  runs to know that the server is ready.
- mariadb: MARIADB_ROOT_PASSWORD, MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD or their MYSQL_
  names; root@'%' and root@localhost with the root password; the user granted ALL on the database
  only; time zone tables loaded; "ready for connections" logged by a temporary server for the
  initialisation and again by the real one on port 3306: testcontainers waits for both.

Run as root: `python3 tests/standins/build.py [postgresql:17] [mariadb:11.8] ...` (no argument:
all four). An image that already exists is reused; the others are built at the same time.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIRROR = "http://deb.debian.org/debian"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Measured: a root filesystem peaks at 0.7 GB before it is trimmed; an image holds 0.39 GB
#: (PostgreSQL 17, with LLVM for its JIT) or less. Docker's vfs storage driver keeps a full
#: copy per image, and two more per container (its init layer and its own layer), so running
#: a stand-in takes another 0.8 GB for as long as its container lives.
ROOT_FILESYSTEM_BYTES = 800 * 10**6
IMAGE_BYTES = 500 * 10**6


@dataclass(frozen=True)
class StandIn:
    """One image: which server, from which Debian release, tagged how."""

    database: str  # "postgresql" or "mariadb"
    version: str  # the major version, as the official image's tag names it

    @property
    def name(self) -> str:
        return f"{self.database}:{self.version}"

    @property
    def image(self) -> str:
        """The official image's name, which the stand-in's tag and entrypoint file repeat."""
        return "postgres" if self.database == "postgresql" else "mariadb"

    @property
    def tag(self) -> str:
        return f"tutorial-standin/{self.image}:{self.version}"

    @property
    def suite(self) -> str:
        return "bookworm" if self.version in ("15", "10.11") else "trixie"

    @property
    def packages(self) -> list[str]:
        if self.database == "postgresql":
            return [f"postgresql-{self.version}", "locales"]
        return ["mariadb-server", "tzdata"]

    @property
    def image_settings(self) -> list[str]:
        """The Dockerfile instructions `docker import --change` gives the image."""
        settings = ['ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]']
        if self.database == "postgresql":
            return settings + [
                f"ENV PATH={PATH}:/usr/lib/postgresql/{self.version}/bin",
                f"ENV PG_MAJOR={self.version}",
                "ENV PGDATA=/var/lib/postgresql/data",
                "ENV LANG=en_US.utf8",
                "EXPOSE 5432",
            ]
        return settings + [f"ENV PATH={PATH}", "ENV LANG=C.UTF-8", "EXPOSE 3306"]


STANDINS = {
    s.name: s
    for s in [
        StandIn("postgresql", "17"),
        StandIn("mariadb", "11.8"),
        StandIn("postgresql", "15"),
        StandIn("mariadb", "10.11"),
    ]
}


class BuildError(Exception):
    """A step failed; the message is one sentence for the reader."""


#: Set on Ctrl-C: the builds stop at their next step, and the commands running are killed.
_cancelled = threading.Event()
_running: set[subprocess.Popen] = set()
#: Guards _running and the output, which the builds share.
_lock = threading.Lock()


def say(line: str) -> None:
    with _lock:
        print(line, flush=True)


def run(command: list[str], what: str, stdin=None) -> str:
    """Run a command, return its output; if it fails, the error names the step and its last line.

    Each command runs in its own process group, so that Ctrl-C stops it and all it started."""
    if _cancelled.is_set():
        raise BuildError("Interrupted.")
    if shutil.which(command[0]) is None:
        raise BuildError(f"{what} failed: {command[0]} is not on the PATH.")
    with subprocess.Popen(
        command,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        with _lock:
            _running.add(process)
            if _cancelled.is_set():
                os.killpg(process.pid, signal.SIGKILL)
        try:
            stdout, stderr = process.communicate()
        finally:
            with _lock:
                _running.discard(process)
    if process.returncode != 0:
        lines = (stderr or stdout).strip().splitlines() or ["no output"]
        raise BuildError(f"{what} failed (exit status {process.returncode}): {lines[-1]}")
    return stdout


def kill_running_commands() -> None:
    """Stop the builds: each command, with what it started (debootstrap's dpkg, say)."""
    _cancelled.set()
    with _lock:
        for process in _running:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@contextmanager
def step(standin: StandIn, name: str):
    """Print how long a step of one image's build took, once it succeeded."""
    start = time.monotonic()
    yield
    say(f"{standin.tag:<32} {name:<12} {time.monotonic() - start:6.1f} s")


def download(standin: StandIn, root: Path) -> None:
    """debootstrap's first stage: fetch and unpack the packages of a minimal Debian and the
    server's."""
    run(
        [
            "debootstrap",
            "--foreign",
            "--variant=minbase",
            f"--include={','.join(standin.packages)}",
            standin.suite,
            str(root),
            MIRROR,
        ],
        f"debootstrap of {standin.suite} for {standin.tag}",
    )


def install(standin: StandIn, root: Path) -> None:
    """debootstrap's second stage, in the chroot: install the packages. dpkg is told not to
    sync every file it writes, since this root filesystem lives only until it is imported."""
    unsafe_io = root / "etc/dpkg/dpkg.cfg.d/unsafe-io"
    unsafe_io.write_text("force-unsafe-io\n")
    run(
        ["chroot", str(root), "/debootstrap/debootstrap", "--second-stage"],
        f"debootstrap's second stage for {standin.tag}",
    )
    unmount_under(root)
    unsafe_io.unlink()


def prepare(standin: StandIn, root: Path) -> None:
    """What the official image does beyond installing the package, then trim the image."""
    if standin.database == "postgresql":
        # The official image makes en_US.UTF-8 and sets LANG=en_US.utf8.
        with open(root / "etc/locale.gen", "a") as locales:
            locales.write("en_US.UTF-8 UTF-8\n")
        run(["chroot", str(root), "locale-gen"], f"locale-gen for {standin.tag}")
        # Debian's package made a cluster; the entrypoint makes its own in PGDATA.
        remove(
            root / "var/lib/postgresql" / standin.version, root / "etc/postgresql" / standin.version
        )
        remove(*(root / "var/log/postgresql").iterdir())
        remove(root / "usr/share/i18n")  # the locales' sources, compiled by now
    else:
        # Debian's package initialised a data directory; the entrypoint makes its own.
        remove(*(root / "var/lib/mysql").iterdir())
    remove(
        *(root / "var/lib/apt/lists").glob("*_*"),
        *(root / "var/cache/apt").rglob("*.deb"),
        *(root / "var/cache/apt").glob("*.bin"),
        *[p for p in (root / "usr/share/locale").iterdir() if p.name != "locale.alias"],
        root / "usr/share/doc",
        root / "usr/share/man",
        root / "usr/share/info",
        root / "usr/share/lintian",
        root / "var/log/bootstrap.log",
    )
    check_version(standin, root)
    entrypoint = root / "usr/local/bin/docker-entrypoint.sh"
    shutil.copyfile(HERE / f"{standin.image}-entrypoint.sh", entrypoint)
    entrypoint.chmod(0o755)


def check_version(standin: StandIn, root: Path) -> None:
    """The stand-in must be the version it is named after."""
    if standin.database == "postgresql":
        server = f"/usr/lib/postgresql/{standin.version}/bin/postgres"
        pattern = r"\(PostgreSQL\) (\d+)\.\d+"
    else:
        server = "/usr/sbin/mariadbd"
        pattern = r"Ver (\d+\.\d+)\.\d+-MariaDB"
    output = run(["chroot", str(root), server, "--version"], f"{server} --version in {standin.tag}")
    found = re.search(pattern, output)
    if not found or found.group(1) != standin.version:
        raise BuildError(
            f"Debian {standin.suite}'s {standin.packages[0]} installed "
            f"{output.strip() or 'nothing'}, not {standin.database} {standin.version}."
        )


def import_image(standin: StandIn, root: Path) -> None:
    """`tar | docker import`, with the settings of the official image that the contract needs."""
    changes = [argument for setting in standin.image_settings for argument in ("--change", setting)]
    message = f"stand-in for {standin.name} from Debian {standin.suite}, by tests/standins/build.py"
    tar = subprocess.Popen(
        ["tar", "--one-file-system", "--numeric-owner", "-C", str(root), "-c", "."],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        run(
            ["docker", "import", "--message", message, *changes, "-", standin.tag],
            f"docker import of {standin.tag}",
            stdin=tar.stdout,
        )
    finally:
        tar.stdout.close()
        tar_status = tar.wait()
    if tar_status != 0:  # the image holds part of the root filesystem
        subprocess.run(["docker", "image", "rm", standin.tag], capture_output=True)
        raise BuildError(f"tar of the root filesystem of {standin.tag} failed ({tar_status}).")


def remove(*paths: Path) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def mounts_under(directory: Path) -> list[str]:
    """What is mounted inside the directory (an interrupted debootstrap may leave /proc)."""
    prefix = str(directory) + "/"
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1].replace("\\040", " ") for line in mounts]
    return sorted((p for p in points if p.startswith(prefix)), reverse=True)


def unmount_under(directory: Path) -> None:
    """Unmount what a chroot left mounted inside the directory: debootstrap's second stage
    mounts /proc in its chroot and, when unmounting fails, says nothing and leaves it there."""
    for point in mounts_under(directory):
        subprocess.run(["umount", "--lazy", point], check=False)
    if mounts_under(directory):
        raise BuildError(f"{directory} still has mounts inside it; unmount them and delete it.")


def remove_build_directory(directory: Path) -> None:
    """Delete a build directory, never through a mount."""
    unmount_under(directory)
    shutil.rmtree(directory, ignore_errors=True)


def build(standin: StandIn, work: Path) -> None:
    root = work / standin.tag.replace("/", "-").replace(":", "-")
    start = time.monotonic()
    try:
        with step(standin, "download"):
            download(standin, root)
        with step(standin, "install"):
            install(standin, root)
        with step(standin, "prepare"):
            prepare(standin, root)
        with step(standin, "import"):
            import_image(standin, root)
    finally:
        with step(standin, "delete"):
            remove_build_directory(root)
    size = int(run(["docker", "image", "inspect", "--format", "{{.Size}}", standin.tag], "docker"))
    say(f"{standin.tag:<32} {'built':<12} {time.monotonic() - start:6.1f} s, {size / 1e9:.2f} GB")


def gigabytes(n: int) -> str:
    return f"{n / 1e9:.1f} GB"


def check_free_space(build_directory: Path, docker_root: Path, count: int) -> None:
    """Fail in one sentence when a disk cannot hold the root filesystems or the images."""
    needs: dict[int, list] = {}
    for path, need in (
        (build_directory, count * ROOT_FILESYSTEM_BYTES),
        (docker_root, count * IMAGE_BYTES),
    ):
        if not path.exists():  # a Docker engine on another machine: its disk is not ours to see
            continue
        entry = needs.setdefault(os.stat(path).st_dev, [0, [], path])
        entry[0] += need
        entry[1].append(str(path))
    for need, paths, path in needs.values():
        stat = os.statvfs(path)
        free = stat.f_bavail * stat.f_frsize
        if free < need:
            images = "the stand-in image" if count == 1 else f"{count} stand-in images"
            raise BuildError(
                f"Building {images} needs {gigabytes(need)} free on the filesystem holding "
                f"{' and '.join(paths)}, but only {gigabytes(free)} is free."
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "images", nargs="*", metavar="IMAGE", help=f"any of {', '.join(STANDINS)} (default: all)"
    )
    parser.add_argument(
        "--build-directory",
        type=Path,
        default=Path("/var/tmp"),
        help="where the root filesystems are made (default: /var/tmp)",
    )
    arguments = parser.parse_args()
    for name in arguments.images:
        if name not in STANDINS:
            parser.error(f"{name!r} is none of {', '.join(STANDINS)}.")
    wanted = [STANDINS[name] for name in dict.fromkeys(arguments.images or STANDINS)]

    if os.geteuid() != 0:
        raise BuildError("build.py must run as root: debootstrap and chroot need it.")
    if shutil.which("debootstrap") is None:
        raise BuildError("debootstrap is missing: install it (apt-get install debootstrap).")
    if shutil.which("docker") is None:
        raise BuildError(
            "The docker command is missing: install Docker (apt-get install docker.io)."
        )
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.DockerRootDir}}"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        info = None
    if info is None or info.returncode != 0 or not info.stdout.strip():
        raise BuildError("Docker is not answering (`docker info` failed): start the Docker engine.")
    docker_root = Path(info.stdout.strip())

    missing = []
    for standin in wanted:
        exists = subprocess.run(["docker", "image", "inspect", standin.tag], capture_output=True)
        if exists.returncode == 0:
            say(f"{standin.tag:<32} reused")
        else:
            missing.append(standin)
    if not missing:
        return 0

    arguments.build_directory.mkdir(parents=True, exist_ok=True)
    check_free_space(arguments.build_directory, docker_root, len(missing))
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="tutorial-standins-", dir=arguments.build_directory))
    errors = []
    try:
        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            futures = [pool.submit(build, standin, work) for standin in missing]
            try:
                for future in futures:
                    try:
                        future.result()
                    except BuildError as error:
                        errors.append(str(error))
            except KeyboardInterrupt:
                kill_running_commands()
                raise
    finally:
        remove_build_directory(work)
    if errors:
        raise BuildError(" ".join(errors))
    say(f"{'all built':<45} {time.monotonic() - start:6.1f} s")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped like Ctrl-C: clean up
    try:
        sys.exit(main())
    except BuildError as error:
        print(error, file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("Interrupted: the images that were not finished were not made.", file=sys.stderr)
        sys.exit(130)
