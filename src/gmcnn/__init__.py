"""gmcnn — image inpainting with Generative Multi-column CNNs (Wang et al., NeurIPS 2018).

Quick start::

    from gmcnn import Inpainter
    inpainter = Inpainter.from_pretrained()          # the embedded default model, offline
    result = inpainter(image, mask)                  # PIL or uint8 array in, same type and size out

Masks: white / non-zero / True = hole (to fill). Pixels outside the mask are returned byte-identical.
"""

from gmcnn.inpainting import FillOptions, FillResult, Inpainter, inpaint
from gmcnn.models.gmcnn import GMCNN, GMCNNConfig
from gmcnn.version import __version__

__all__ = ["GMCNN", "FillOptions", "FillResult", "GMCNNConfig", "Inpainter", "__version__", "inpaint"]
