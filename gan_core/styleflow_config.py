"""The shape of StyleFlow's conditional continuous normalising flow (no torch needed to read it)."""

from __future__ import annotations

from dataclasses import dataclass

LIGHTING_ROWS = (7, 12)  # StyleFlow's lighting edit takes W+ rows [7, 12) of the 1024 px generator's 18


@dataclass(frozen=True)
class FlowConfig:
    """Shape of the flow (the published large model: 512, five hidden layers of 512, 17 condition entries)."""

    dim: int = 512
    hidden: tuple[int, ...] = (512, 512, 512, 512, 512)
    context: int = 17
    atol: float = 1e-5
    rtol: float = 1e-5
