"""Internal messaging between agents and supervisors (A5)."""
