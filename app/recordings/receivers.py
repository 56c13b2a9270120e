"""Reactions to other features' signals (connected when the models load, so in
every process: web, workers, dialer)."""

from __future__ import annotations

import uuid

from app.core import signals
from app.leads.privacy import person_erased


@signals.call_ended.connect
def _on_call_ended(sender: object, *, tenant_id: int, payload: dict, recording_path: str | None = None,
                   **_: object) -> None:
    """A recorded call ended: register its WAV and queue the conversion. The WAV's path
    travels beside the payload, which webhooks publish to the tenant as it is."""
    source = recording_path
    if not source:
        return
    from app.recordings import services, tasks

    recording = services.register_recording(uuid.UUID(str(payload["id"])), source)
    if recording is not None:
        tasks.convert_recording.send_with_options(args=(recording.id,), tenant_id=tenant_id)


@person_erased.connect
def _on_person_erased(sender: object, *, lead_ids: list[int], phones: list[str], **_: object) -> None:
    from app.recordings import services
    from app.recordings.storage import storage_from_config
    from app.runtime import current_config

    services.erase_for_phones(phones, storage_from_config(current_config()))
