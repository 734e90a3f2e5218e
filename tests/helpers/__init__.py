"""Helpers shared by several test modules (not tests themselves; pytest collects only ``test_*.py``)."""
