"""Data parallelism for the shared training loop over fairseq2's data-parallel gang.

``seqmask train`` under ``torchrun`` makes a process group (gloo on CPU, NCCL on CUDA)
and sets it as fairseq2's default gangs; a plain process has fairseq2's fake gang of
size 1, and then none of this does anything. With N processes the loop's batch is the
*global* batch: rank r trains on ``batch[r::N]``, gradients are summed over ranks and
divided by N after every backward pass (what DDP does, in one bucket), so N processes
take the steps one process takes with the whole batch. The units reach into their
models' submodules (a masker, mask embeddings), which a DDP wrapper would hide; hence
the all-reduce here rather than ``DistributedDataParallel``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch
from fairseq2.gang import Gang, ReduceOperation, get_current_gangs
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

T = TypeVar("T")

RANK_SEED_STRIDE = 1_000_003
"""Rank r > 0 reseeds torch with ``seed + r * RANK_SEED_STRIDE`` after building the model, so ranks draw different
dropout and noise; rank 0 keeps the single-process stream."""


def data_parallel_gang(device: torch.device) -> Gang:
    """The data-parallel gang of this thread (fairseq2's current gangs): size 1 unless ``seqmask train`` runs under
    ``torchrun``."""
    return get_current_gangs(device).dp


def shard(batch: Sequence[T], gang: Gang) -> list[T]:
    """This rank's share of a global batch: every ``gang.size``-th example from ``gang.rank``."""
    if len(batch) < gang.size:
        raise ValueError(
            f"a batch of {len(batch)} examples cannot be split over {gang.size} processes: raise the batch size"
        )
    return list(batch[gang.rank :: gang.size])


def broadcast_parameters(model: nn.Module, gang: Gang) -> None:
    """Every rank starts from rank 0's weights."""
    for tensor in [*model.parameters(), *model.buffers()]:
        gang.broadcast(tensor.data, source_rank=0)


def average_gradients(model: nn.Module, gang: Gang) -> None:
    """Gradients summed over ranks and divided by their number; a parameter without a gradient on any rank counts as
    zero there, and one without a gradient on every rank keeps none (so AdamW skips it, as in one process)."""
    params = [p for p in model.parameters() if p.requires_grad]
    has_grad = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=params[0].device)  # (P,)
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = _flatten_dense_tensors(grads)  # (sum of parameter sizes,)
    gang.all_reduce(flat, ReduceOperation.SUM)
    gang.all_reduce(has_grad, ReduceOperation.SUM)
    flat /= gang.size
    for param, averaged, anywhere in zip(params, _unflatten_dense_tensors(flat, grads), has_grad.tolist()):
        param.grad = averaged if anywhere else None


def mean_over_ranks(values: Sequence[float], gang: Gang, device: torch.device) -> list[float]:
    """The mean of each value over ranks (logged losses)."""
    tensor = torch.tensor(values, dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    gang.all_reduce(tensor, ReduceOperation.SUM)
    return (tensor / gang.size).tolist()


def all_ranks_agree(flag: bool, gang: Gang, device: torch.device) -> bool:
    """True only when ``flag`` is true on every rank (a step is skipped everywhere if one rank saw a non-finite
    loss)."""
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    gang.all_reduce(tensor, ReduceOperation.MIN)
    return bool(tensor.item() == 1.0)


def check_replicas_agree(model: nn.Module, gang: Gang) -> None:
    """Raise when the ranks' weights differ (a gradient that was not averaged, a rank that skipped a step)."""
    checksum = torch.stack([p.detach().double().sum() for p in model.parameters()]).sum().reshape(1)  # (1,)
    low, high = checksum.clone(), checksum.clone()
    gang.all_reduce(low, ReduceOperation.MIN)
    gang.all_reduce(high, ReduceOperation.MAX)
    if low.item() != high.item():
        raise RuntimeError(
            f"data-parallel replicas diverged: weight checksums range over [{low.item()!r}, {high.item()!r}]"
        )
