"""Start Prefect's temporary (ephemeral) server for ``eltrepro run`` reliably, or say in one line what to do.

Without a Prefect server (no ``PREFECT_API_URL``) each run starts a temporary server of its own: a subprocess
that, before it answers, migrates the Prefect home's SQLite database and registers the block types in it. Two runs
started at the same moment on a busy machine failed in two ways: on one fresh home both processes migrated the
database at once (``duplicate column name``), and on separate homes one server did not answer within Prefect's
default allowance (20 s). Either way the user got a 40-line traceback.

Design: the run starts the temporary server itself, before its flow does, while it holds a file lock beside the
home's database (``<PREFECT_HOME>/eltrepro-start.lock`` by default), and releases the lock once the server
answers its health check. So each start's writes (the migration on a fresh home, the block registration on
every start) happen one server at a time, by Prefect's own code with the user's own database settings, and
no migration API of Prefect's is called here. The flow then finds the server running (Prefect keeps one per
process). The cost: runs sharing a home start their servers one after another (seconds), then run side by side.

The start-up allowance is the user's ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` (environment or
Prefect profile) when set, else a generous ``DEFAULT_ALLOWANCE_S``; it is passed to the start call rather than
put in the environment, so a value in the user's Prefect profile is not overridden. A server that still cannot
start is a ``ServerStartError``: one line (run a server, set ``PREFECT_API_URL``) and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from landmark_core.config import ConfigError

if TYPE_CHECKING:
    from prefect.settings import Settings

DEFAULT_ALLOWANCE_S = 120  # a loaded 2-core machine took over 20 s; Prefect's default is 20 s
LOCK_NAME = "eltrepro-start.lock"
PREFECT_MESSAGE = "ephemeral Prefect API server"  # in the RuntimeError of a temporary server that did not answer
ADVICE = (
    "start a Prefect server (`prefect server start`, in another terminal) and set "
    "PREFECT_API_URL=http://127.0.0.1:4200/api, or allow the temporary one longer with "
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
)


class ServerStartError(ConfigError):
    """Prefect's temporary server did not start; the message says what to do instead (one line)."""


def start_temporary_server() -> None:
    """Start Prefect's temporary server now, one start at a time per database, when the run will need one.

    Does nothing when the user has a server (``PREFECT_API_URL``, from the environment or the Prefect profile)
    or has turned the temporary server off (the flow then reports that itself).

    Raises:
        ServerStartError: the server did not answer within the allowance, or another run's start held the lock
            too long.
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return
    allowance = startup_allowance(settings)
    _start_locked(lock_path(settings), allowance)


def startup_allowance(settings: Settings) -> int:
    """The seconds the temporary server may take to answer.

    Args:
        settings: Prefect's current settings.

    Returns:
        The user's ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS`` where they set it (environment or
        profile), else ``DEFAULT_ALLOWANCE_S``.
    """
    ephemeral = settings.server.ephemeral
    user_set = "startup_timeout_seconds" in ephemeral.model_fields_set
    return ephemeral.startup_timeout_seconds if user_set else DEFAULT_ALLOWANCE_S


def lock_path(settings: Settings) -> Path:
    """The start lock: beside the SQLite database file the temporary server migrates, else in the Prefect home.

    Args:
        settings: Prefect's current settings (the home, the database URL: the user's own or Prefect's default,
            ``<PREFECT_HOME>/prefect.db``).

    Returns:
        ``<folder>/eltrepro-start.lock``, its folder created.
    """
    from sqlalchemy.engine import make_url

    folder = Path(settings.home).expanduser()
    secret = settings.server.database.connection_url
    url = make_url(secret.get_secret_value()) if secret is not None else None
    if url is not None and url.get_backend_name() == "sqlite" and _is_file(url.database):
        folder = Path(url.database).expanduser().parent
    folder.mkdir(parents=True, exist_ok=True)
    return folder / LOCK_NAME


def _is_file(database: str | None) -> bool:
    """Whether a SQLite URL's database names a file (not memory, not a ``file:`` URI)."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


def _start_locked(lock_file: Path, allowance: int) -> None:
    """Start the temporary server while holding ``lock_file``; Prefect's failure becomes a ``ServerStartError``.

    Args:
        lock_file: the start lock of the server's database.
        allowance: the seconds the server may take to answer; the lock is awaited for several allowances (the
            starts of other runs that share the database come first).
    """
    from filelock import FileLock, Timeout
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.server.api.server import SubprocessASGIServer

    ensure_logging_setup()  # Prefect's "Starting temporary server on ..." line, as when the flow starts it
    try:
        with FileLock(lock_file, timeout=max(60, 4 * allowance)):
            SubprocessASGIServer().start(timeout=allowance)
    except Timeout as error:
        raise ServerStartError(f"other runs held {lock_file} while starting their Prefect servers: {ADVICE}") from error
    except RuntimeError as error:
        if PREFECT_MESSAGE not in str(error):
            raise
        raise ServerStartError(
            f"Prefect's temporary server did not answer within {allowance} s (a busy machine?): {ADVICE}"
        ) from error
