"""Weights: the export format, the typed contract, the registry of known weights, the official loaders and
 :func:`load_weights` (name or path -> generator + contract).

The embedded default model's files live in ``default/`` beside these modules (package data).
"""

from gmcnn.weights.contract import Contract
from gmcnn.weights.loader import Weights, load_weights
from gmcnn.weights.registry import WeightsEntry, get, names, register

__all__ = [
    "Contract",
    "Weights",
    "WeightsEntry",
    "get",
    "load_weights",
    "names",
    "register",
]
