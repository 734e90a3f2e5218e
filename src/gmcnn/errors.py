"""Exceptions shown to users: one clear line, no traceback (the CLI and HTTP API catch these)."""


class UserError(ValueError):
    """Bad input or configuration that the user can fix; the message says what was expected."""


class UnsupportedImage(UserError):
    """The bytes are not an image, or an image in a format gmcnn does not read."""


class ImageTooLarge(UserError):
    """The image has more pixels than the configured limit."""
