"""StyleGAN2's adversarial losses: the non-saturating logistic loss and the R1 penalty (Mescheder et al. 2018).

Logits are the discriminator's raw outputs; ``softplus(-x) = -log sigmoid(x)``, so the losses are the logistic
GAN's written without a sigmoid that would saturate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def generator_loss(*, fake_logits: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``mean(-log sigmoid(D(G(z))))``.

    Shapes:
        fake_logits ``[N, 1]`` -> scalar.
    """
    return F.softplus(-fake_logits).mean()


def discriminator_loss(*, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Logistic discriminator loss ``mean(-log sigmoid(D(x))) + mean(-log(1 - sigmoid(D(G(z)))))``.

    Shapes:
        real_logits ``[N, 1]``, fake_logits ``[M, 1]`` -> scalar.
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def r1_penalty(*, real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Mean over images of ``|d D(x) / d x|^2`` on real images (the caller weights it by ``gamma / 2``).

    ``real_images`` must require grad and ``real_logits`` be computed from it; the graph is kept so the penalty
    can be back-propagated into the discriminator's weights.

    Shapes:
        real_logits ``[N, 1]``, real_images ``[N, 3, R, R]`` -> scalar.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_images, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()
