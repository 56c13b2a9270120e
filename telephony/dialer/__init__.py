"""Dialer core: call and agent state machines (``calls``), pacing policies (``pacing``),
the per-campaign engine (``engine``) and the simulator backend (``simulator``).
No I/O here: see docs/dialer.md."""
