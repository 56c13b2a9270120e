"""The S3-compatible storage: Signature V4 against AWS's published example, and the
whole path (conversion, range-served player) against a local S3-like HTTP server
that checks every request's signature."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import http.server
import threading
from collections.abc import Iterator

import pytest

from app.extensions import Session
from app.recordings import services
from app.recordings.models import RecordingStatus
from app.recordings.storage import S3Storage, StorageError, sign_v4, storage_from_config
from app.runtime import current_config
from tenants.scoping import tenant_scope
from tests.recordings.conftest import make_call, write_wav
from tests.recordings.test_views import sign_in

ACCESS, SECRET = "AKIDCARILLONTEST", "secret/key+for-tests"


def test_signature_matches_the_aws_documented_example():
    # "GET Object" example of the S3 Signature Version 4 documentation
    headers = sign_v4("GET", "https://examplebucket.s3.amazonaws.com/test.txt", {"Range": "bytes=0-9"}, b"",
                      "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
                      dt.datetime(2013, 5, 24, tzinfo=dt.UTC))
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


class FakeS3(http.server.BaseHTTPRequestHandler):
    objects: dict[str, bytes] = {}
    refused: list[str] = []

    def _authorised(self, body: bytes) -> bool:
        given = self.headers.get("Authorization", "")
        names = given.split("SignedHeaders=")[1].split(",")[0].split(";") if "SignedHeaders=" in given else []
        headers = {name: self.headers[name] for name in names if name not in ("host", "x-amz-date",
                                                                            "x-amz-content-sha256")}
        when = dt.datetime.strptime(self.headers.get("x-amz-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        expected = sign_v4(self.command, f"http://{self.headers['Host']}{self.path}", headers, body, ACCESS, SECRET,
                           "eu-west-3", when)
        ok = (expected["Authorization"] == given
              and self.headers.get("x-amz-content-sha256") == hashlib.sha256(body).hexdigest())
        if not ok:
            FakeS3.refused.append(self.path)
        return ok

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)) if "Content-Length" not in (headers or {})
                         else headers["Content-Length"])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_PUT(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not self._authorised(body):
            return self._answer(403)
        FakeS3.objects[self.path] = body
        self._answer(200)

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._authorised(b""):
            return self._answer(403)
        if self.path not in FakeS3.objects:
            return self._answer(404)
        self._answer(200, headers={"Content-Length": str(len(FakeS3.objects[self.path]))})

    def do_GET(self) -> None:  # noqa: N802
        if not self._authorised(b""):
            return self._answer(403)
        data = FakeS3.objects.get(self.path)
        if data is None:
            return self._answer(404)
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start, stop = int(first), (int(last) + 1 if last else len(data))
            return self._answer(206, data[start:stop], {"Content-Range": f"bytes {start}-{stop - 1}/{len(data)}"})
        self._answer(200, data)

    def do_DELETE(self) -> None:  # noqa: N802
        if not self._authorised(b""):
            return self._answer(403)
        FakeS3.objects.pop(self.path, None)
        self._answer(204)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def s3(app, monkeypatch) -> Iterator[str]:
    from app import runtime

    FakeS3.objects, FakeS3.refused = {}, []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeS3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}"
    config = dataclasses.replace(runtime.current_config(), RECORDINGS_STORAGE="s3", RECORDINGS_S3_ENDPOINT=endpoint,
                                 RECORDINGS_S3_BUCKET="carillon-rec", RECORDINGS_S3_REGION="eu-west-3",
                                 RECORDINGS_S3_ACCESS_KEY=ACCESS, RECORDINGS_S3_SECRET_KEY=SECRET)
    monkeypatch.setitem(runtime._current, "config", config)
    yield endpoint
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_storage_round_trip_with_ranges_and_deletion(s3, tmp_path):
    storage = storage_from_config(current_config())
    assert isinstance(storage, S3Storage)
    source = tmp_path / "a.mp3"
    source.write_bytes(bytes(range(256)) * 4)
    assert storage.put("7/2026/11/1.mp3", source) == 1024
    assert storage.size("7/2026/11/1.mp3") == 1024
    assert storage.read("7/2026/11/1.mp3", 10, 20) == bytes(range(10, 20))
    assert storage.read("7/2026/11/1.mp3", 1000) == (bytes(range(256)) * 4)[1000:]
    storage.delete("7/2026/11/1.mp3")
    storage.delete("7/2026/11/1.mp3")  # already gone: no error
    with pytest.raises(FileNotFoundError):
        storage.size("7/2026/11/1.mp3")
    with pytest.raises(StorageError):
        storage.put("../escape.mp3", source)
    assert FakeS3.refused == []


def test_wrong_secret_is_refused(s3, tmp_path):
    storage = S3Storage(s3, "carillon-rec", "eu-west-3", ACCESS, "not-the-secret")
    source = tmp_path / "a.mp3"
    source.write_bytes(b"x")
    with pytest.raises(StorageError, match="403"):
        storage.put("1/x.mp3", source)


def test_recording_converted_into_the_bucket_and_played_with_ranges(client, world, spool, s3):
    call = make_call(world.a.id)
    wav = write_wav(spool / f"{call.id}.wav", 3.0)
    with tenant_scope(world.a.id):
        recording = services.register_recording(call.id, str(wav))
        services.convert_recording(recording.id, storage_from_config(current_config()))
        Session.commit()
        assert recording.status == RecordingStatus.READY
        stored = FakeS3.objects[f"/carillon-rec/{recording.path}"]
        assert len(stored) == recording.size_bytes
    sign_in(client, world, "a", "supervisor")
    part = client.get(f"/recordings/{recording.id}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == stored[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(stored)}"
    assert client.get(f"/recordings/{recording.id}/audio").data == stored
    assert FakeS3.refused == []
