"""A stereo WAV (customer left, agent right, as FreeSWITCH writes with RECORD_STEREO)
becomes a mono MP3 that carries both voices and lasts as long as the call. The MP3 is
read back by walking its frame headers (no decoder is installed)."""

from __future__ import annotations

import math
import pathlib
import wave

import numpy as np
import pytest

from app.recordings.audio import BIT_RATE_KBPS, downmix, wav_to_mp3

_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_KBPS_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_KBPS_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)


def mp3_frames(data: bytes) -> list[dict[str, int]]:
    """Each MPEG audio layer III frame's rate, bit rate, channel mode and sample count."""
    i = 0
    if data[:3] == b"ID3":  # an ID3v2 tag: its size is four 7-bit bytes
        i = 10 + ((data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F))
    frames = []
    while i + 4 <= len(data):
        header = int.from_bytes(data[i:i + 4], "big")
        assert header >> 21 == 0x7FF, f"no MP3 frame sync at byte {i}"
        version, layer = (header >> 19) & 3, (header >> 17) & 3
        assert version in _RATES and layer == 1, f"not MPEG layer III at byte {i}"
        rate = _RATES[version][(header >> 10) & 3]
        padding = (header >> 9) & 1
        if version == 3:
            kbps, samples = _KBPS_V1[(header >> 12) & 15], 1152
            size = 144_000 * kbps // rate + padding
        else:
            kbps, samples = _KBPS_V2[(header >> 12) & 15], 576
            size = 72_000 * kbps // rate + padding
        frames.append({"rate": rate, "kbps": kbps, "mode": (header >> 6) & 3, "samples": samples})
        i += size
    assert i == len(data), "the last MP3 frame is truncated"
    return frames


def write_stereo(path: pathlib.Path, left: np.ndarray, right: np.ndarray, rate: int = 8000) -> pathlib.Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.column_stack([left, right]).astype("<i2").tobytes())
    return path


def tone(hz: float, seconds: float, amplitude: int, rate: int = 8000) -> np.ndarray:
    n = np.arange(int(seconds * rate))
    return (amplitude * np.sin(2 * math.pi * hz * n / rate)).astype(np.int16)


def test_downmix_is_the_mean_of_both_channels_without_wrapping_around() -> None:
    interleaved = np.array([1000, -1000, 32767, 32767, -32768, -32768, 300, 100, 7], dtype="<i2")
    assert downmix(interleaved, 2).tolist() == [0, 32767, -32768, 200]  # the odd sample is dropped
    assert downmix(interleaved, 1) is interleaved
    # customer alone on the left, agent alone on the right: both are heard, at half level
    customer, agent = tone(440, 1.0, 8000), tone(300, 1.0, 6000)
    quiet = np.zeros_like(customer)
    both = np.column_stack([customer, agent]).ravel()
    mono = downmix(both, 2)
    assert len(mono) == len(customer)
    assert np.abs(mono.astype(np.int32) - (customer.astype(np.int32) + agent) / 2).max() <= 1
    assert np.abs(downmix(np.column_stack([customer, quiet]).ravel(), 2) - customer / 2).max() <= 1


@pytest.mark.parametrize("seconds", [0.5, 10.0, 75.3])
def test_stereo_wav_with_different_channels_becomes_mono_mp3_of_the_same_duration(tmp_path, seconds) -> None:
    """Customer (440 Hz) left, agent (300 Hz, louder, starting later) right."""
    customer = tone(440, seconds, 9000)
    agent = tone(300, seconds, 12000)
    agent[: len(agent) // 3] = 0
    wav = write_stereo(tmp_path / "call.wav", customer, agent)
    info = wav_to_mp3(wav, tmp_path / "call.mp3")
    data = (tmp_path / "call.mp3").read_bytes()
    frames = mp3_frames(data)
    assert (info.channels, info.sample_rate, info.duration_s) == (2, 8000, pytest.approx(seconds, abs=0.001))
    assert {f["mode"] for f in frames} == {3}, "every MP3 frame is single-channel"
    assert {f["rate"] for f in frames} == {8000}
    assert {f["kbps"] for f in frames if f["kbps"]} == {BIT_RATE_KBPS}
    mp3_seconds = sum(f["samples"] for f in frames) / 8000
    # LAME adds its encoder delay and pads the last frame: at most ~3 frames (0.22 s) more
    print(f"\n{seconds} s stereo WAV -> mono MP3 of {len(frames)} frames = {mp3_seconds:.3f} s, {len(data)} bytes")
    assert seconds <= mp3_seconds <= seconds + 0.25
