"""A variance-preserving initialisation of the GMCNN generator, for the residual (``fill="smooth"``) variant.

Why: with the official init (every conv weight ~ N(0, 0.02), whatever its fan-in) a cnum-8 GMCNN is badly scaled.
Per conv, the activation scale is multiplied by about ``0.02 * sqrt(fan_in)``: 0.34 for the 3x3 column's
32-channel layers and 0.57 for the 5x5 one, so after their 12-18 layers the signal has vanished (std 1e-5 at the
fusion), while the 7x7 column (1.58 per layer) grows. Trained from there, the shipped cnum-8 default ended with its
7x7 column at activations of +-400 and the fusion conv's pre-activations at about -150 everywhere: ELU saturated
to -1, **zero gradient into the whole network, a constant correction** — which is why nine runs found the
network adding ~0 dB to its pre-fill.

Here every conv gets ``N(0, (gain / sqrt(fan_in))^2)`` with :data:`GAIN` (measured on validation crops: 1.0 still
shrinks the signal over the trunk, sqrt(2) doubles it by the fusion; 1.2 keeps the activation std within about
0.5-2 through all columns), zero biases, and the **last conv zero**: the prediction starts exactly at the pre-fill
with every feature live, and the first Adam steps grow the correction from there.
"""

from __future__ import annotations

import math

from torch import nn

GAIN = 1.2
OFFICIAL_STD = 0.02


def official_init_(generator: nn.Module) -> None:
    """The official releases' init, in place: every conv weight N(0, 0.02), biases 0 (both networks use it)."""
    for m in generator.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, OFFICIAL_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def scaled_init_(generator: nn.Module, *, gain: float = GAIN) -> None:
    """Re-initialise ``generator``'s convs in place (fan-in scaled normal, zero bias, last conv zero)."""
    convs = [m for m in generator.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        fan_in = conv.in_channels // conv.groups * conv.kernel_size[0] * conv.kernel_size[1]
        nn.init.normal_(conv.weight, 0.0, gain / math.sqrt(fan_in))
        if conv.bias is not None:
            nn.init.zeros_(conv.bias)
    nn.init.zeros_(convs[-1].weight)  # the module order ends with decoding_layers[1], the output conv


__all__ = ["GAIN", "OFFICIAL_STD", "official_init_", "scaled_init_"]
