"""Inbound calling (spec D6/D7, V9): DIDs, IVR menus, queues (in-groups)."""
