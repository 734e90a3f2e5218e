"""The error handlers (gmcnn.web.errors): what a crash looks like to the client."""

from __future__ import annotations

from typing import Any

import numpy as np
from helpers.web import Gate, assert_error, encode, hole, local, post

from gmcnn import Inpainter
from gmcnn.web import create_app


def test_a_crash_in_the_model_is_a_json_500(inpainter: Inpainter, picture: np.ndarray) -> None:
    class Broken(Gate):
        def fill(self, image: Any, mask: Any, options: Any = None, **kwargs: Any) -> Any:
            raise RuntimeError("simulated out of memory")

    with local(create_app(Broken(inpainter)), raise_server_exceptions=False) as c:
        assert_error(post(c, encode(picture), encode(hole())), 500, "RuntimeError", "simulated out of memory")
        assert c.app.state.queue.admitted == 0
