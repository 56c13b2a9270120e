"""Where converted recordings live: one interface, keyed by ``<tenant>/<yyyy>/<mm>/<id>.mp3``.

``LocalStorage`` keeps them in a directory (a shared volume in production). Files are
written under a temporary name and renamed into place, so a reader never sees half a
file and a failed write leaves nothing behind. ``S3Storage`` keeps them in an
S3-compatible bucket (``RECORDINGS_STORAGE=s3``)."""

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
    kind = getattr(config, "RECORDINGS_STORAGE", "local")
    if kind == "local":
        return LocalStorage(config.RECORDINGS_DIR)  # type: ignore[attr-defined]
    if kind == "s3":
        return S3Storage(
            config.RECORDINGS_S3_ENDPOINT,  # type: ignore[attr-defined]
            config.RECORDINGS_S3_BUCKET,  # type: ignore[attr-defined]
            config.RECORDINGS_S3_REGION,  # type: ignore[attr-defined]
            config.RECORDINGS_S3_ACCESS_KEY,  # type: ignore[attr-defined]
            config.RECORDINGS_S3_SECRET_KEY,  # type: ignore[attr-defined]
        )
    raise StorageError(f"unknown RECORDINGS_STORAGE {kind!r} (local | s3)")


class S3Storage:
    """An S3-compatible bucket (AWS, MinIO, Ceph, Scaleway...), path-style URLs, signed
    with AWS Signature Version 4 using the standard library only. A PUT is atomic on
    the server side: an object is either whole or absent."""

    def __init__(self, endpoint: str, bucket: str, region: str, access_key: str, secret_key: str,
                 timeout: float = 30.0) -> None:
        if not (endpoint and bucket and access_key and secret_key):
            raise StorageError("S3 storage needs an endpoint, a bucket and credentials")
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.region = region
        self.access_key = access_key
        self.secret_key = secret_key
        self.timeout = timeout

    def _url(self, key: str) -> str:
        from urllib.parse import quote

        if key.startswith("/") or ".." in key.split("/"):
            raise StorageError(f"bad key {key!r}")
        return f"{self.endpoint}/{quote(self.bucket)}/{quote(key)}"

    def _request(self, method: str, key: str, body: bytes = b"", headers: dict[str, str] | None = None,
                 ok: tuple[int, ...] = (200,)) -> tuple[int, dict[str, str], bytes]:
        import datetime as dt
        import urllib.error
        import urllib.request

        url = self._url(key)
        signed = sign_v4(method, url, dict(headers or {}), body, self.access_key, self.secret_key, self.region,
                         dt.datetime.now(dt.UTC))
        request = urllib.request.Request(url, data=body if method == "PUT" else None, method=method, headers=signed)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            if error.code in ok:
                return error.code, dict(error.headers), error.read()
            if error.code == 404:
                raise FileNotFoundError(key) from error
            raise StorageError(f"S3 {method} {key}: HTTP {error.code} {error.read()[:200]!r}") from error
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise StorageError(f"S3 {method} {key}: {error}") from error

    def put(self, key: str, source: pathlib.Path) -> int:
        body = source.read_bytes()  # recordings are small: ~120 kB per minute of call
        self._request("PUT", key, body, {"Content-Type": "audio/mpeg"})
        return len(body)

    def size(self, key: str) -> int:
        _, headers, _ = self._request("HEAD", key)
        return int({k.lower(): v for k, v in headers.items()}["content-length"])

    def read(self, key: str, start: int = 0, stop: int | None = None) -> bytes:
        if stop is not None and stop <= start:
            return b""
        wanted = f"bytes={start}-{'' if stop is None else stop - 1}"
        _, _, body = self._request("GET", key, headers={"Range": wanted}, ok=(200, 206))
        return body

    def delete(self, key: str) -> None:
        try:
            self._request("DELETE", key, ok=(200, 204))
        except FileNotFoundError:
            return


def sign_v4(method: str, url: str, headers: dict[str, str], body: bytes, access_key: str, secret_key: str,
            region: str, now: object, service: str = "s3") -> dict[str, str]:
    """The request headers with AWS Signature Version 4 added (``Authorization``,
    ``x-amz-date``, ``x-amz-content-sha256``, ``Host``)."""
    import hashlib
    import hmac
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")  # type: ignore[attr-defined]
    day = amz_date[:8]
    payload_hash = hashlib.sha256(body).hexdigest()
    all_headers = {**headers, "Host": parts.netloc, "x-amz-date": amz_date, "x-amz-content-sha256": payload_hash}
    canonical = {name.lower(): " ".join(str(value).split()) for name, value in all_headers.items()}
    signed_names = ";".join(sorted(canonical))
    query = "&".join(sorted(q for q in parts.query.split("&") if q))
    canonical_request = "\n".join([
        method, parts.path or "/", query,
        "".join(f"{name}:{canonical[name]}\n" for name in sorted(canonical)),
        signed_names, payload_hash,
    ])
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    all_headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
                                    f"SignedHeaders={signed_names}, Signature={signature}")
    return all_headers
