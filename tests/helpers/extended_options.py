"""``python tests/helpers/extended_options.py ARGS``: the gmcnn CLI with one more fill option, ``sharpness``.

The option is declared here only, as a subclass of :class:`FillOptions` put in its place before any front end
is imported: test_form.py uses it to show that a new field reaches the CLI flags, ``/openapi.json``,
``/api/v1/health`` and the page's controls with no other edit.
"""

from __future__ import annotations

import dataclasses
import sys

from gmcnn.inpainting import options


@dataclasses.dataclass(frozen=True, kw_only=True)
class WithSharpness(options.FillOptions):
    sharpness: float = options._option(
        0.25, "how sharp the fill is (an option of the tests only)", minimum=0.0, maximum=1.0, label="Sharpness"
    )


options.FillOptions = WithSharpness  # type: ignore[misc]

if __name__ == "__main__":
    from gmcnn.cli import main

    sys.exit(main(sys.argv[1:]))
