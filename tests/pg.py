"""A private, throw-away PostgreSQL server for the test suite (Debian's binaries)."""

import contextlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "lms"
DATABASE = "lms_test"
# Durability buys nothing in a server that is deleted after the run.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "autovacuum": "off",
    "max_connections": "50",
    "shared_buffers": "32MB",
    "dynamic_shared_memory_type": "posix",
    "logging_collector": "off",
    "log_min_messages": "warning",
    "timezone": "'UTC'",
}
# Unix socket paths are limited to 107 bytes, ".s.PGSQL.65535" included.
_MAX_SOCKET_DIR = 90


class PostgresError(RuntimeError):
    """The test PostgreSQL server could not be set up."""


def find_bindir():
    """The bin directory of the newest PostgreSQL that Debian's packages installed."""
    found = [p for p in PG_ROOT.glob("*/bin") if (p / "initdb").is_file()
             and (p / "pg_ctl").is_file() and (p / "postgres").is_file()]
    if not found:
        raise PostgresError(
            f"no PostgreSQL server binaries under {PG_ROOT}/*/bin: install Debian's "
            "postgresql package (apt-get install postgresql) to run the tests with --db postgresql"
        )
    return max(found, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)])


def _run_as():
    """PostgreSQL refuses to run as root: the account to run it as, or None for ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresError("running as root, but there is neither a 'postgres' nor a 'nobody' user")


def _reachable(path, account):
    """True when `account` may enter every directory from / down to `path`."""
    if account is None:
        return True
    for part in [path, *path.parents]:
        mode = part.stat()
        if mode.st_uid == account.pw_uid:
            if not mode.st_mode & stat.S_IXUSR:
                return False
        elif not mode.st_mode & stat.S_IXOTH:
            return False
    return True


def _workdir(tmpdir, account):
    """A fresh directory that `account` can own and reach, preferably under `tmpdir`."""
    tmpdir = Path(tmpdir).resolve()
    base = tmpdir if _reachable(tmpdir, account) else Path(tempfile.gettempdir()).resolve()
    if not _reachable(base, account):
        raise PostgresError(f"neither {tmpdir} nor {base} can be reached by {account.pw_name}")
    work = Path(tempfile.mkdtemp(prefix="pg-", dir=base))
    if len(str(work / "run")) > _MAX_SOCKET_DIR:
        shutil.rmtree(work)
        work = Path(tempfile.mkdtemp(prefix="pg-", dir="/tmp"))
    if account is not None:
        os.chown(work, account.pw_uid, account.pw_gid)
    return work


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _command(account, *args):
    args = [str(a) for a in args]
    return ["runuser", "-u", account.pw_name, "--", *args] if account else args


def _env():
    # libpq and pg_ctl read PG* variables; the developer's own must not leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8", TZ="UTC")
    return env


def _check(cmd, what, cwd, log=None):
    result = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, check=False)
    if result.returncode != 0:
        detail = (result.stdout + result.stderr).strip()
        if log is not None and log.exists():
            detail += "\n--- server log ---\n" + log.read_text(errors="replace")[-4000:]
        raise PostgresError(f"{what} failed ({result.returncode}): {' '.join(cmd)}\n{detail}")
    return result


def connect(url, **kwargs):
    """A psycopg connection from a SQLAlchemy URL of this module's servers."""
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), **kwargs)


def create_database(url, name):
    """Create database `name` on the server of `url`; return its URL."""
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url.rsplit("/", 1)[0] + "/" + name


def drop_database(url, name):
    """Drop database `name` on the server of `url`, ending its sessions."""
    with connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                     .format(sql.Identifier(name)))


@contextlib.contextmanager
def postgres_server(tmpdir):
    """Run a private PostgreSQL server under `tmpdir`; yield a SQLAlchemy URL to its database.

    The server listens on a free 127.0.0.1 port and a socket inside its own directory, runs
    without durability, and is stopped and deleted on exit, also when the tests fail.
    """
    bindir = find_bindir()
    account = _run_as()
    work = _workdir(tmpdir, account)
    data, run, log = work / "data", work / "run", work / "server.log"
    started = False
    try:
        _check(_command(account, bindir / "initdb", "-D", data, "-U", SUPERUSER,
                        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
                        "--no-instructions"), "initdb", cwd=work)
        run.mkdir()
        if account is not None:
            os.chown(run, account.pw_uid, account.pw_gid)
        for attempt in range(3):
            port = _free_port()
            settings = {**SETTINGS, "port": str(port), "unix_socket_directories": f"'{run}'"}
            with (data / "postgresql.conf").open("a") as conf:  # the last setting wins
                conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
            try:
                _check(_command(account, bindir / "pg_ctl", "-D", data, "-l", log, "-w",
                                "-t", "30", "start"), "pg_ctl start", cwd=work, log=log)
            except PostgresError:
                # Another process may have taken the port between the probe and the start.
                if attempt == 2 or "could not bind" not in log.read_text(errors="replace"):
                    raise
                continue
            started = True
            break
        url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/{DATABASE}"
        create_database(url.rsplit("/", 1)[0] + "/postgres", DATABASE)
        yield url
    finally:
        try:
            if started:
                _stop(bindir, account, data, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _stop(bindir, account, data, work):
    cmd = _command(account, bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "20",
                   "stop")
    result = subprocess.run(cmd, cwd=work, env=_env(), capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=60, check=False)
    if result.returncode == 0:
        return
    # pg_ctl could not stop it: end our own postmaster, and only it, by its recorded pid.
    pidfile = data / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int(pidfile.read_text().split()[0])
        os.kill(pid, 9)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
