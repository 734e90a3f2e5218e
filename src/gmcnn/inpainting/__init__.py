"""Inference: one fill pipeline from a user image and mask to the filled image.

``pipeline`` (the :class:`Inpainter`) · ``options`` (:class:`FillOptions`, :class:`FillResult`) · ``image``
(pure conversions) · ``windows`` (crop strategy and plan) · ``backends`` (how the network runs) · ``onnx``.
"""

from gmcnn.inpainting.options import FillOptions, FillResult
from gmcnn.inpainting.pipeline import Inpainter, inpaint
from gmcnn.inpainting.windows import FillPlan

__all__ = ["FillOptions", "FillPlan", "FillResult", "Inpainter", "inpaint"]
