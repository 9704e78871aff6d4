"""Sizes of the wav2vec 2.0 architectures (no torch imports: configs validate names against them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Arch:
    """Sizes of one architecture."""

    model_dim: int
    num_layers: int
    num_heads: int
    ffn_dim: int
    pos_conv_kernel: int
    pos_conv_groups: int
    final_dim: int
    num_codebook_entries: int
    num_distractors: int


ARCHS: dict[str, Arch] = {
    "tiny": Arch(64, 2, 2, 128, 16, 4, 32, 32, 20),
    "mini": Arch(96, 3, 4, 384, 32, 8, 64, 64, 20),
    "small": Arch(192, 4, 4, 768, 32, 8, 128, 64, 50),
    "base": Arch(768, 12, 12, 3072, 128, 16, 256, 320, 100),
}


def arch_sizes(name: str) -> Arch:
    """The sizes of architecture ``name``."""
    if name not in ARCHS:
        raise ValueError(f"unknown architecture {name!r}, expected one of {sorted(ARCHS)}")
    return ARCHS[name]
