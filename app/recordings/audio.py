"""WAV (FreeSWITCH ``record_session``, stereo: customer left, agent right) to MP3
mono 16 kbit/s with lameenc: about 120 kB per minute of call."""

from __future__ import annotations

import pathlib
import wave
from dataclasses import dataclass

import lameenc
import numpy as np

BIT_RATE_KBPS = 16
CHUNK_FRAMES = 8000 * 10  # encode ten seconds at a time: bounded memory for long calls


class ConversionError(RuntimeError):
    """The WAV cannot be turned into an MP3 (unreadable, truncated, unsupported)."""


@dataclass(frozen=True)
class AudioInfo:
    duration_s: float
    sample_rate: int
    channels: int


def downmix(samples: np.ndarray, channels: int) -> np.ndarray:
    """Interleaved 16-bit frames to mono: the mean of the customer's and the agent's
    sample (computed in 32 bits, so two loud channels cannot wrap around); an
    incomplete last frame is dropped."""
    if channels == 1:
        return samples
    frames = samples[: len(samples) - len(samples) % channels].reshape(-1, channels).astype(np.int32)
    return (frames.sum(axis=1) // channels).astype("<i2")


def wav_to_mp3(source: pathlib.Path, target: pathlib.Path) -> AudioInfo:
    """Write ``target`` (MP3) from ``source`` (16-bit PCM WAV, mono or stereo). On any
    error, ``target`` is removed and ``ConversionError`` raised."""
    try:
        with wave.open(str(source), "rb") as wav:
            channels, width, rate, frames = wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()
            if width != 2 or channels not in (1, 2) or rate <= 0:
                raise ConversionError(
                    f"{source.name}: unsupported WAV ({channels} channels, {8 * width}-bit, {rate} Hz)"
                )
            encoder = lameenc.Encoder()
            encoder.set_bit_rate(BIT_RATE_KBPS)
            encoder.set_in_sample_rate(rate)
            # 16 kbit/s only makes sense at telephone bandwidth
            encoder.set_out_sample_rate(8000)
            encoder.set_channels(1)
            encoder.set_quality(2)
            read = 0
            with target.open("wb") as out:
                while True:
                    raw = wav.readframes(CHUNK_FRAMES)
                    if not raw:
                        break
                    samples = downmix(np.frombuffer(raw, dtype="<i2"), channels)
                    read += len(samples)
                    out.write(encoder.encode(samples.tobytes()))
                out.write(encoder.flush())
            if read < frames:
                raise ConversionError(f"{source.name}: truncated WAV ({read} of {frames} frames)")
    except ConversionError:
        target.unlink(missing_ok=True)
        raise
    except (wave.Error, EOFError, OSError, ValueError, RuntimeError) as error:
        target.unlink(missing_ok=True)
        raise ConversionError(f"{source.name}: {type(error).__name__}: {error}") from error
    return AudioInfo(duration_s=round(frames / rate, 3), sample_rate=rate, channels=channels)
