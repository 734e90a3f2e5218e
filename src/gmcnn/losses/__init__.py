"""Training losses as pure functions: reconstruction (confidence-driven), ID-MRF, adversarial."""

from gmcnn.losses.adversarial import (
    CRITIC_LOSSES,
    generator_adversarial_loss,
    gradient_penalty,
    hinge_critic_loss,
    wgan_critic_loss,
)
from gmcnn.losses.idmrf import idmrf_loss, mrf_layer_loss
from gmcnn.losses.reconstruction import confidence_l1, confidence_weights, known_l1

__all__ = [
    "CRITIC_LOSSES",
    "confidence_l1",
    "confidence_weights",
    "generator_adversarial_loss",
    "gradient_penalty",
    "hinge_critic_loss",
    "idmrf_loss",
    "known_l1",
    "mrf_layer_loss",
    "wgan_critic_loss",
]
