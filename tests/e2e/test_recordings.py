"""Recordings page in Debian's Chromium: a supervisor searches by phone, plays a real
MP3 (a generated stereo WAV converted by the product's lameenc job code) in the page's
<audio> element, seeks in it over HTTP range requests, and downloads it."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.e2e.conftest import shot
from tests.e2e.test_agent_workspace import _login
from tests.recordings.conftest import make_ready_recording, spool, storage_root  # noqa: F401

SECONDS = 180.0


def _wait(page, script: str, arg: object = None, timeout_s: float = 15.0) -> object:
    """Poll a script on the page until it returns a truthy value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {script}")
        page.wait_for_timeout(100)


def test_search_play_seek_and_download_an_mp3(live_server, browser_page, world, spool, storage_root,  # noqa: F811
                                              tmp_path):
    recording = make_ready_recording(world.a.id, spool, SECONDS, phone="+33644556677",
                                     agent_id=world.a.users["agent"].id)
    other = make_ready_recording(world.a.id, spool, 2.0, phone="+33611111111")
    stored = (storage_root / recording.path).read_bytes()
    print(f"\nMP3 of a {SECONDS:.0f} s stereo WAV: {len(stored)} bytes = "
          f"{len(stored) / (SECONDS / 60) / 1000:.1f} kB per minute")
    page = browser_page
    audio_url = f"/recordings/{recording.id}/audio"
    exchanges: list[tuple[str | None, int, str | None]] = []

    def on_response(response) -> None:
        if response.url.endswith(audio_url):
            exchanges.append((response.request.headers.get("range"), response.status,
                              response.headers.get("content-range")))

    page.on("response", on_response)
    _login(page, live_server, world.a.users["supervisor"].email, world.password)
    page.goto(f"{live_server}/recordings/")
    assert page.locator("tbody.recording-call").count() == 2

    # search by phone (HTMX swaps the results)
    page.fill("input[name=phone]", "0644556677")
    page.click("form.filters button[type=submit]")
    # (a locator, not wait_for_function: polling a string would be eval, which the CSP forbids)
    expect(page.locator("tbody.recording-call")).to_have_count(1)
    row = page.locator(f"tr[data-recording-id='{recording.id}']")
    assert row.count() == 1 and page.locator(f"tr[data-recording-id='{other.id}']").count() == 0
    assert "0644556677" in page.url

    # a slow line (about 40 kB/s, 20× the MP3's rate): a seek lands beyond what is loaded
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20, "downloadThroughput": 40_000,
                                                  "uploadThroughput": 40_000})

    # play (muted: headless autoplay rules allow a muted play() without a gesture)
    selector = f"tr[data-recording-id='{recording.id}'] audio"
    page.eval_on_selector(selector, "a => { a.muted = true; a.play(); }")
    _wait(page, "s => { const a = document.querySelector(s); return a.currentTime > 0.5 && !a.paused; }", selector)
    state = page.eval_on_selector(selector, "a => ({error: a.error && a.error.code, duration: a.duration, "
                                            "seekable: a.seekable.length ? a.seekable.end(0) : 0})")
    assert state["error"] is None
    assert abs(state["duration"] - SECONDS) < 1.0, state
    assert state["seekable"] >= SECONDS - 1.0, "the browser may seek anywhere: the server answers ranges"

    # seek near the end, beyond what is loaded: a new range request, playback carries on
    target = SECONDS - 20
    page.eval_on_selector(selector, "(a, t) => { a.currentTime = t; }", target)
    _wait(page, "([s, t]) => { const a = document.querySelector(s); return !a.seeking && a.currentTime > t + 0.3; }",
          [selector, target])
    assert page.eval_on_selector(selector, "a => a.error") is None
    ranged = [e for e in exchanges if e[0] is not None]
    assert ranged and all(status == 206 for _, status, _ in ranged), exchanges
    offsets = [int(header.removeprefix("bytes=").split("-")[0]) for header, _, _ in ranged]
    assert max(offsets) > len(stored) // 2, f"the seek was served by a range request from mid-file: {exchanges}"
    assert all(content_range and content_range.endswith(f"/{len(stored)}") for _, _, content_range in ranged)
    print(f"audio requests seen by the browser (Range, status, Content-Range): {exchanges}")
    shot(page, "recordings-playing")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})

    # download: the very bytes stored
    with page.expect_download() as download_info:
        row.locator("a[href$='/download']").click()
    download = download_info.value
    target_file = tmp_path / download.suggested_filename
    download.save_as(target_file)
    assert download.suggested_filename.endswith(f"-{recording.id}.mp3")
    assert target_file.read_bytes() == stored
