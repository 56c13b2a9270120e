"""Campaigns (C1). Only the minimal model the contacts feature needs lives here so far."""
