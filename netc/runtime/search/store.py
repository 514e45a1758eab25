"""Where a study lives and what every process of it shares.

The storage is Optuna's RDB storage: SQLite in the run folder by default
(embedded, no server), or any URL SQLAlchemy takes (``postgresql://...``) so
workers on many machines share one study. Heartbeats mark the trials of live
processes; a trial whose process died is failed and enqueued again with the
same parameters (``RetryFailedTrialCallback``).

The study's user attributes hold the settings every worker follows (the
budget, epochs, quick mode), so ``netc worker`` needs only the storage and the
study's name. A lock (a file lock for SQLite, an advisory lock for
PostgreSQL) makes "count the trials, then ask for one" atomic across workers,
so the budget is never overrun.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import zlib
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from netc.processes import process_alive

STORAGE_ENV = "NETC_SEARCH_STORAGE"   # how a storage URL (which may hold a password) reaches child processes
HEARTBEAT_S = 2
GRACE_S = 12
MAX_RETRIES = 3
SETTINGS_ATTR = "netc"
STOP_ATTR = "netc_stop"
META_FILE = "search.json"


class SearchError(RuntimeError):
    """A search that cannot start or could not go on (the message says why)."""

    def __init__(self, message: str, result: Any = None):
        super().__init__(message)
        self.result = result


class NoStudyError(SearchError, LookupError):
    """No search has been run for this model (or its run folder has no study)."""


@dataclass
class StudySettings:
    """What every process of a study follows; stored in the study, updated by each ``netc search``."""

    spec: str
    model: str
    budget: int
    epochs: int | None          # None: the train block's
    max_samples: int | None     # quick mode's cap on each data set
    max_failures: int
    deadline: float | None      # time.time() after which no trial starts
    session_start: float        # failures in a row count from here
    objective: str
    direction: str

    @classmethod
    def of(cls, study) -> "StudySettings":
        raw = study.user_attrs.get(SETTINGS_ATTR)
        if not raw:
            raise SearchError(f"study '{study.study_name}' was not created by netc search")
        return cls(**{k: raw.get(k) for k in cls.__dataclass_fields__})

    def save(self, study) -> None:
        study.set_user_attr(SETTINGS_ATTR, asdict(self))


def default_storage(run_dir: Path) -> str:
    return f"sqlite:///{(Path(run_dir) / 'study.db').resolve()}"


def sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def masked(url: str) -> str:
    """The URL without its password, for files and messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def open_storage(url: str, heartbeat: bool = False):
    """Optuna's RDB storage; with ``heartbeat``, dead trials are found and retried with the same parameters."""
    import optuna

    quiet()
    url = with_driver(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_wal(path)
        engine_kwargs: dict[str, Any] = {"connect_args": {"timeout": 120}}
    else:
        engine_kwargs = {"pool_pre_ping": True}
    extra: dict[str, Any] = {}
    if heartbeat:
        extra = {"heartbeat_interval": HEARTBEAT_S, "grace_period": GRACE_S,
                 "heartbeat_stale_trial_callback": retry_callback()}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **extra)


def with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy 2.1 but psycopg2 to 2.0: name the installed one."""
    from importlib.util import find_spec

    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        driver = "psycopg" if find_spec("psycopg") is not None else "psycopg2"
        return f"postgresql+{driver}://{rest}"
    return url


def retry_callback():
    """Optuna's callback that enqueues a failed trial again with the same parameters (renamed in Optuna 4.9)."""
    import optuna

    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback
    return retry(max_retry=MAX_RETRIES)


def _sqlite_wal(path: Path) -> None:
    """Write-ahead logging: readers (the live table) never block the workers' writes. Set once per file."""
    import sqlite3

    connection = sqlite3.connect(str(path), timeout=120)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


def quiet() -> None:
    """Optuna's INFO lines and experimental-feature warnings are not for netc's users."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


@contextmanager
def budget_lock(storage, url: str, study_name: str) -> Iterator[None]:
    """Held while a worker counts the trials and asks for the next one."""
    path = sqlite_path(url)
    if path is not None:
        with open(f"{path}.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    elif url.startswith("postgresql"):
        from sqlalchemy import text

        key = zlib.crc32(f"netc:{study_name}".encode())
        with storage.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
    else:
        yield


def worker_tag() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def fail_orphans(study) -> int:
    """Fail the running trials whose process is gone, and enqueue each again with its parameters.

    A trial of a worker on this machine whose process no longer exists is failed
    at once; any other is failed when its heartbeat is older than the grace
    period (Optuna's ``fail_stale_trials``). Returns how many were failed here.
    """
    import optuna
    from optuna.trial import TrialState

    optuna.storages.fail_stale_trials(study)
    host = socket.gethostname()
    storage = study._storage
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        tag = trial.user_attrs.get("worker", "")
        where, _, pid = tag.rpartition(":")
        if where != host or not pid.isdigit() or process_alive(int(pid)):
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "interrupted", True)
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # it finished meanwhile, or another worker failed it first
        retry_callback()(study, storage.get_trial(trial._trial_id))
        failed += 1
    return failed


def write_meta(run_dir: Path, data: dict[str, Any]) -> None:
    path = Path(run_dir) / META_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_meta(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / META_FILE
    if not path.exists():
        raise NoStudyError(f"{run_dir} holds no search (no {META_FILE}); run 'netc search SPEC' first")
    return json.loads(path.read_text(encoding="utf-8"))


def storage_of(run_dir: Path, meta: dict[str, Any], given: str | None = None) -> str:
    """The study's storage URL: given, else from the environment, else the run folder's record of it."""
    url = given or meta.get("storage") or None
    if url is None:
        return default_storage(run_dir)
    if "***" in url:
        url = os.environ.get(STORAGE_ENV) or url
        if "***" in url:
            raise SearchError(f"the study of {run_dir} lives at {url}; give its password with --storage URL "
                              f"or the {STORAGE_ENV} environment variable")
    return url


def now() -> float:
    return time.time()
