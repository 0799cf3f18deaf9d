"""`flask lms backup PATH` and `flask lms restore PATH --yes`: the whole database in one file
and back. SQLite: the online backup API (a consistent copy while the app runs, WAL included);
PostgreSQL: `pg_dump --format=custom` and `pg_restore`. The certificate signing keys live in
files, not in the database, so they are not in a backup: back them up separately, encrypted
(SECURITY.md)."""

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from psycopg.conninfo import make_conninfo
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lms.certificates.keys import key_dir
from lms.extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_ROOT = Path("/usr/lib/postgresql")
# The tables whose row counts both commands print, with constant statements (no SQL is built).
COUNTS = {
    "users": "SELECT count(*) FROM users",
    "certificates": "SELECT count(*) FROM certificates",
    "audit_events": "SELECT count(*) FROM audit_events",
}
BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path):
    """Write the whole database to PATH, a new file readable by its owner only (SQLite: a
    database file; PostgreSQL: a pg_dump custom-format archive). Safe while the app runs."""
    backend = _backend()
    if path.exists():
        raise click.ClickException(f"{path} exists: a backup never overwrites a file; "
                                   "choose a new name")
    if not path.parent.is_dir():
        raise click.ClickException(f"there is no folder {path.parent}")
    try:
        fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                       suffix=".partial")
    except OSError as exc:
        raise click.ClickException(f"cannot write in {path.parent}: {exc.strerror}") from exc
    partial = Path(partial)
    try:
        with os.fdopen(fd, "wb") as out:  # mkstemp: mode 0600 whatever the umask
            if backend == "sqlite":
                counts = _backup_sqlite(_sqlite_file(), partial)
            else:
                counts = _backup_postgresql(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"Backed up the {BACKENDS[backend]} database {_describe()} to {path} "
               f"({path.stat().st_size} bytes).")
    _echo_counts(counts)
    keys = current_app.config.get("CERT_SIGNING_KEY_FILE") or key_dir()
    click.echo(f"Not in the backup: the certificate signing keys ({keys}); back them up "
               "separately, encrypted.")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True,
              help="Really replace the configured database with the backup.")
@with_appcontext
def restore_command(path, yes):
    """Replace the configured database with the backup in PATH (made by `lms backup`). Without
    --yes, only check the file. Stop the web server and the scheduler first."""
    backend = _backend()
    kind = backup_kind(path)
    if kind is None:
        raise click.ClickException(f"{path} is not a CivicSkills backup (neither a SQLite "
                                   "database nor a pg_dump custom-format archive); nothing "
                                   "was changed")
    if kind != backend:
        raise click.ClickException(f"{path} is a backup of a {BACKENDS[kind]} database and the "
                                   f"configured database is {BACKENDS[backend]}; nothing was "
                                   "changed")
    if backend == "sqlite":
        _check_sqlite_backup(path)
    else:
        _check_postgresql_backup(path)
    if not yes:
        raise click.ClickException(f"{path} is a readable backup. Restoring replaces everything in "
                                   f"the database {_describe()}: stop the web server and the "
                                   "scheduler, then run again with --yes; nothing was changed")
    db.session.remove()
    db.engine.dispose()  # no pooled connection may hold on to the old data
    try:
        counts = (_restore_sqlite(path, _sqlite_file()) if backend == "sqlite"
                  else _restore_postgresql(path))
    finally:
        db.engine.dispose()
    click.echo(f"Restored {path} into the {BACKENDS[backend]} database {_describe()}.")
    _echo_counts(counts)
    click.echo("Next: `flask --app wsgi db upgrade` if the backup is older than this version, "
               "`flask --app wsgi lms audit verify`, and a new SECRET_KEY (SECURITY.md).")


def backup_kind(path: Path) -> str | None:
    """"sqlite" or "postgresql" by the file's first bytes, or None for anything else."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc.strerror}") from exc
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    return None


def _backend() -> str:
    backend = db.engine.url.get_backend_name()
    if backend not in BACKENDS:
        raise click.ClickException(f"cannot back up or restore a {backend} database")
    return backend


def _describe() -> str:
    return db.engine.url.render_as_string(hide_password=True)


def _echo_counts(counts: dict[str, int]) -> None:
    for table, count in counts.items():
        click.echo(f"  {table}: {count}")


# SQLite ------------------------------------------------------------------------------------

def _sqlite_file() -> Path:
    """The configured database file."""
    name = db.engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise click.ClickException(f"the SQLite database {name or ':memory:'!r} is not a file")
    return Path(name)


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    return {table: connection.execute(query).fetchone()[0] for table, query in COUNTS.items()}


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _backup_sqlite(source: Path, target: Path) -> dict[str, int]:
    """Copy the live database page by page into `target` in one consistent read."""
    if not source.is_file():
        raise click.ClickException(f"there is no database at {source}")
    try:
        with closing(sqlite3.connect(source, timeout=30)) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file: no -wal beside
            return _sqlite_counts(dst)
    except sqlite3.Error as exc:
        raise click.ClickException(f"the backup failed: {exc}") from exc


def _check_sqlite_backup(path: Path) -> None:
    try:
        with closing(_read_only(path)) as conn:
            status = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {row[0] for row in
                      conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        raise click.ClickException(f"{path} is damaged ({exc}); nothing was changed") from exc
    if status != "ok":
        raise click.ClickException(f"{path} is damaged ({status}); nothing was changed")
    missing = [table for table in COUNTS if table not in tables]
    if missing:
        raise click.ClickException(f"{path} is a SQLite database but not a CivicSkills backup "
                                   f"(no table {', '.join(missing)}); nothing was changed")


def _restore_sqlite(backup: Path, target: Path) -> dict[str, int]:
    """Copy the backup into the database file in one transaction (all or nothing)."""
    if target.exists() and target.samefile(backup):
        raise click.ClickException(f"{backup} is the database itself; nothing was changed")
    try:
        with closing(_read_only(backup)) as src, \
                closing(sqlite3.connect(target, timeout=30)) as dst:
            src.backup(dst)
            return _sqlite_counts(dst)
    except sqlite3.Error as exc:
        raise click.ClickException(f"the restore failed ({exc}); the database was not "
                                   "changed") from exc


# PostgreSQL --------------------------------------------------------------------------------

def pg_tool(name: str) -> str:
    """`name` (pg_dump, pg_restore) of the newest PostgreSQL installed beside the server
    binaries (Debian: /usr/lib/postgresql/*/bin), else from PATH."""
    found = [p for p in PG_ROOT.glob(f"*/bin/{name}") if p.is_file()]
    if found:
        return str(max(found, key=lambda p: [int(n) for n in
                                             re.findall(r"\d+", p.parent.parent.name)]))
    on_path = shutil.which(name)
    if on_path is None:
        raise click.ClickException(f"{name} not found: install the PostgreSQL client tools "
                                   "(Debian: apt-get install postgresql-client), at least as "
                                   "new as the server")
    return on_path


def libpq_connection() -> tuple[str, dict[str, str]]:
    """The configured database as a libpq connection string without the password, and the
    environment for a client tool with the password in PGPASSWORD (never on a command line,
    where any user of the machine could read it)."""
    url = db.engine.url
    params = {key: value for key, value in url.query.items() if isinstance(value, str)}
    params.update({"host": url.host, "port": url.port and str(url.port), "user": url.username,
                   "dbname": url.database})
    conninfo = make_conninfo("", **{k: v for k, v in params.items() if v is not None})
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _run(command: list[str], env: dict[str, str], stdout=None) -> str:
    """Run a PostgreSQL client tool; its standard output (unless sent to `stdout`)."""
    result = subprocess.run(  # noqa: S603  (a program found above, an argument list, no shell)
        command, env=env, stdin=subprocess.DEVNULL, stdout=stdout or subprocess.PIPE,
        stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode(errors="replace").strip()
        raise click.ClickException(f"{Path(command[0]).name} failed ({result.returncode}): "
                                   f"{detail}")
    return (result.stdout or b"").decode(errors="replace")


def _backup_postgresql(out) -> dict[str, int]:
    """pg_dump from a snapshot this transaction exports, so that the counts printed are those
    of the archive."""
    conninfo, env = libpq_connection()
    pg_dump = pg_tool("pg_dump")
    try:
        with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            counts = {table: conn.execute(text(query)).scalar_one()
                      for table, query in COUNTS.items()}
            _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password",
                  "--dbname", conninfo], env, stdout=out)
            conn.rollback()
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        raise click.ClickException(f"the backup failed: {reason}") from exc
    return counts


def _check_postgresql_backup(path: Path) -> None:
    _, env = libpq_connection()
    try:
        listing = _run([pg_tool("pg_restore"), "--list", str(path)], env)
    except click.ClickException as exc:
        raise click.ClickException(f"{path} is damaged ({exc.message}); nothing was "
                                   "changed") from exc
    missing = [table for table in COUNTS
               if not re.search(rf"^\d+; \d+ \d+ TABLE \S+ {table} ", listing, re.MULTILINE)]
    if missing:
        raise click.ClickException(f"{path} is a pg_dump archive but not a CivicSkills backup "
                                   f"(no table {', '.join(missing)}); nothing was changed")


def _restore_postgresql(path: Path) -> dict[str, int]:
    """pg_restore in one transaction: a failure leaves the database as it was."""
    conninfo, env = libpq_connection()
    try:
        _run([pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
              "--single-transaction", "--exit-on-error", "--no-password", "--dbname", conninfo,
              str(path)], env)
    except click.ClickException as exc:
        raise click.ClickException(f"the restore failed ({exc.message}); the database was not "
                                   "changed") from exc
    with db.engine.connect() as conn:
        return {table: conn.execute(text(query)).scalar_one() for table, query in COUNTS.items()}
