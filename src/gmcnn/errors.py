"""Exceptions shown to users: one clear line, no traceback (the CLI and HTTP API catch these)."""


class UserError(ValueError):
    """Bad input or configuration that the user can fix; the message says what was expected."""


class UnsupportedImage(UserError):
    """The bytes are not an image, or an image in a format gmcnn does not read."""


class ImageTooLarge(UserError):
    """The image has more pixels than the configured limit."""


class EmptyMask(UserError):
    """The mask marks no pixel to fill (the CLI, the HTTP API and the page all say :data:`EMPTY_MASK`)."""

    def __init__(self) -> None:
        super().__init__(EMPTY_MASK)


class FullMask(UserError):
    """The mask (after growing it) covers the whole image: nothing is left to fill from."""


EMPTY_MASK = "the mask is empty: there is nothing to fill; paint over the part that should go (white in a mask file)"
