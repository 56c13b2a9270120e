"""Contacts: lists, leads, custom fields, red lists, Bloctel, imports, timeline, GDPR (spec L1-L8)."""
