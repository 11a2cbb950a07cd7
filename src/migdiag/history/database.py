"""Where the case database is, how to connect to it, and bringing its schema up to date.

    HistoryError                    (a MigdiagError) the CLI prints one line and exits:
    ├── DatabaseUnavailable         cannot connect, or not a migdiag history database
    ├── DatabaseTooNew              written by a newer migdiag (a schema revision we lack)
    ├── UnknownCase                 no case (or no such VM in the case) by that id
    └── UnknownCause                a cause outside the signature library's vocabulary

SQLite (the default) gets WAL and a busy timeout, and every transaction takes the write
lock when it begins (``BEGIN IMMEDIATE``): parallel writers then wait their turn instead of
failing with "database is locked" when one upgrades its read to a write.  PostgreSQL takes an
advisory lock around schema upgrades, so that several first runs at once create it once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from migdiag.errors import MigdiagError

if TYPE_CHECKING:
    from alembic.config import Config

ENV_VAR = "MIGDIAG_DB"
# The newest migration's revision (a test keeps it equal to the scripts' head): a database
# already there is opened without loading Alembic at all.
HEAD = "0002"
BUSY_TIMEOUT_MS = 60_000  # how long a writer waits for another one on SQLite
_PG_UPGRADE_LOCK = 0x6D696764  # "migd": the advisory lock held while upgrading the schema
_MIGRATIONS = Path(__file__).with_name("migrations")


class HistoryError(MigdiagError):
    """A problem with the case database or what was asked of it (one line)."""


class DatabaseUnavailable(HistoryError):
    pass


class DatabaseTooNew(HistoryError):
    pass


class UnknownCase(HistoryError):
    pass


class UnknownCause(HistoryError):
    pass


def default_path() -> Path:
    """history.sqlite in the user's data directory (e.g. ~/.local/share/migdiag)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("migdiag", appauthor=False)) / "history.sqlite"


def resolve_url(url: str | None) -> str:
    """``--db`` wins, then ``$MIGDIAG_DB``, then the default file.  A plain path means an
    SQLite file; anything with ``://`` is an SQLAlchemy URL."""
    chosen = url or os.environ.get(ENV_VAR) or str(default_path())
    if "://" in chosen:
        return chosen
    return sa.URL.create("sqlite+pysqlite", database=chosen).render_as_string()


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def _create_private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only before SQLite opens it (SQLite
    gives its -wal and -shm files the same mode)."""
    if path.exists():
        return
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:  # another process was first
        return
    os.close(fd)


def _sqlite_engine(url: sa.URL, create: bool) -> sa.Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        if not create and not Path(database).exists():
            # A read command on a mistyped path must not create a database (and its folders).
            raise DatabaseUnavailable(
                f"no case history at {database} (one is created by: migdiag history add, "
                "or analyze --record)"
            )
        try:
            _create_private_file(Path(database))
        except OSError as exc:
            raise DatabaseUnavailable(
                f"cannot create the history database {database}: {exc}"
            ) from None
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling begins late and never for DDL: take it over.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def create_engine(url: str, create: bool = True) -> sa.Engine:
    """An engine for ``url``; ``create=False``: a SQLite file that does not exist is an error."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseUnavailable(f"not a database URL: {url}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, create)
    try:
        return sa.create_engine(parsed, poolclass=sa.pool.NullPool)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise DatabaseUnavailable(f"cannot use {describe(url)}: {exc}") from None


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision, as the scripts say."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def _known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _current_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(connection: sa.Connection, url: str, target: str = "head") -> None:
    """Bring the schema to ``target`` inside the caller's transaction, refusing databases
    that a newer migdiag wrote or that are not migdiag's."""
    if target == "head" and _current_revision(connection) == HEAD:
        return  # the common case: nothing to do, and no need to load Alembic
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_UPGRADE_LOCK})
    current = _current_revision(connection)
    if current is None:
        tables = set(sa.inspect(connection).get_table_names())
        if tables and "analyses" not in tables:
            raise DatabaseUnavailable(f"{describe(url)} is not a migdiag history database")
    elif current not in _known_revisions():
        raise DatabaseTooNew(
            f"{describe(url)} was written by a newer migdiag (schema revision {current}); "
            "upgrade migdiag to use it"
        )
    from alembic import command

    command.upgrade(_alembic_config(connection), target)


def _unavailable(url: str, exc: Exception) -> DatabaseUnavailable:
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = reason[0] if reason else type(exc).__name__
    return DatabaseUnavailable(f"cannot open the history database {describe(url)}: {first}")


class Database:
    """An open case database whose schema is current.  Use ``transaction()`` for work."""

    def __init__(
        self, url: str | None = None, *, upgrade_to: str = "head", create: bool = True
    ) -> None:
        self.url = resolve_url(url)
        self.engine = create_engine(self.url, create)
        try:
            with self.engine.begin() as connection:
                upgrade(connection, self.url, upgrade_to)
        except HistoryError:
            self.engine.dispose()
            raise
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.DatabaseError) as exc:
            self.engine.dispose()
            raise _unavailable(self.url, exc) from None

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction: everything inside is stored, or nothing is."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise _unavailable(self.url, exc) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
