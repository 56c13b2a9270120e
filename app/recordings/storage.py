"""Where converted recordings live: one interface, keyed by ``<tenant>/<yyyy>/<mm>/<id>.mp3``.

``LocalStorage`` keeps them in a directory (a shared volume in production). Files are
written under a temporary name and renamed into place, so a reader never sees half a
file and a failed write leaves nothing behind."""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
from typing import Protocol


class StorageError(RuntimeError):
    pass


class RecordingStorage(Protocol):
    def put(self, key: str, source: pathlib.Path) -> int:
        """Store the file at ``source`` under ``key`` (replacing any) and return its size."""
        ...

    def size(self, key: str) -> int:
        """Bytes stored under ``key``; ``FileNotFoundError`` if none."""
        ...

    def read(self, key: str, start: int = 0, stop: int | None = None) -> bytes:
        """Bytes ``[start, stop)`` of the object."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key``; no error if it is already gone."""
        ...


def recording_key(tenant_id: int, recording_id: int, year: int, month: int, fmt: str = "mp3") -> str:
    return f"{tenant_id}/{year:04d}/{month:02d}/{recording_id}.{fmt}"


class LocalStorage:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = pathlib.Path(root).resolve()

    def _path(self, key: str) -> pathlib.Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise StorageError(f"key {key!r} leaves the storage root")
        return path

    def put(self, key: str, source: pathlib.Path) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=target.suffix)
        tmp = pathlib.Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                shutil.copyfileobj(src, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def read(self, key: str, start: int = 0, stop: int | None = None) -> bytes:
        with self._path(key).open("rb") as handle:
            handle.seek(start)
            return handle.read(-1 if stop is None else max(0, stop - start))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def storage_from_config(config: object) -> RecordingStorage:
    return LocalStorage(config.RECORDINGS_DIR)  # type: ignore[attr-defined]
