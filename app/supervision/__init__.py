"""Real-time supervision (S1, V7): the wallboard over Server-Sent Events and the
supervisor's actions on an agent (listen, whisper, barge, take over, message, force
pause, force logout)."""
