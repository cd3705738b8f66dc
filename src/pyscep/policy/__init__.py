"""Enrollment and renewal policy (standalone: imports nothing from the message layer)."""
