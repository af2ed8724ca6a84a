"""Changing the migration: control, the audit trail, Unleash's event log, flag-change broadcast."""
