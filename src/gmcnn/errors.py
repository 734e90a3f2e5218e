"""Exceptions shown to users: one clear line, no traceback (the CLI and HTTP API catch these)."""


class UserError(ValueError):
    """Bad input or configuration that the user can fix; the message says what was expected."""
