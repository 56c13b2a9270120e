"""The agent workspace in the browser (A1-A4)."""
