"""Checkpoint files: written atomically, read without ever running code from them, and the RNG state they carry."""

from __future__ import annotations

import argparse
import pickle
import pickletools
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

SAFE_CHECKPOINT_GLOBALS = (argparse.Namespace,)
"""Classes a checkpoint may hold besides tensors and plain containers: fairseq (v1) checkpoints keep their
training arguments in an ``argparse.Namespace`` (plain values only). Nothing else is ever unpickled."""


def save_checkpoint(path: Path, model: nn.Module, *, kind: str, arch: str, **meta: Any) -> None:
    """fairseq2-style checkpoint: ``{"model": state_dict, "seqmask": {kind, arch, ...}}``, written atomically."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "seqmask": {"kind": kind, "arch": arch, **meta}}, tmp)
    tmp.replace(path)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint file on CPU without running code from it; errors name the file and what is wrong.

    Only tensors, plain containers and :data:`SAFE_CHECKPOINT_GLOBALS` are read
    (``torch.load(weights_only=True)``); a file that pickles anything else (a
    fairseq checkpoint with an omegaconf ``cfg``, or a file crafted to run code) is
    refused with a message saying how to convert it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals(list(SAFE_CHECKPOINT_GLOBALS)):
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        found = _pickled_globals(path) if isinstance(err, pickle.UnpicklingError) else []
        if found:
            raise ValueError(
                f"checkpoint {path} holds pickled objects beyond tensors ({', '.join(found)}); seqmask never unpickles "
                "them, since unpickling can run code. If you trust the file, convert it in a Python session: "
                "`ckpt = torch.load(PATH, weights_only=False); torch.save({'model': ckpt['model']}, 'converted.pt')`, "
                "then pass converted.pt"
            ) from None
        detail = (
            "not a pickle of tensors"
            if isinstance(err, pickle.UnpicklingError)
            else f"{type(err).__name__}: {str(err)[:200]}"
        )
        raise ValueError(
            f"checkpoint {path} is not a PyTorch checkpoint: expected a file written by torch.save, reading it failed "
            f"({detail})"
        ) from None
    if not isinstance(checkpoint, dict):
        raise ValueError(f"checkpoint {path}: expected a dict at the top level, found {type(checkpoint).__name__}")
    return checkpoint


def _pickled_globals(path: Path) -> list[str]:
    """Names of the classes and functions a checkpoint file would import, read without unpickling it."""
    if zipfile.is_zipfile(path):
        return torch.serialization.get_unsafe_globals_in_checkpoint(path)
    names, strings = [], []
    try:
        with open(path, "rb") as stream:
            for opcode, arg, _ in pickletools.genops(stream):
                if opcode.name == "GLOBAL":
                    names.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(".".join(strings[-2:]))
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # not a well-formed pickle: report what was found before the damage
        pass
    found = sorted(set(names) - {f"{c.__module__}.{c.__qualname__}" for c in SAFE_CHECKPOINT_GLOBALS})
    return [
        name for name in found if not name.startswith(("torch.", "collections."))
    ] or found  # the foreign ones first


def torch_rng_state() -> dict[str, Any]:
    """CPU and CUDA generator states of this process."""
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_torch_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`torch_rng_state` returned."""
    torch.set_rng_state(state["cpu"])
    if state["cuda"]:
        torch.cuda.set_rng_state_all(state["cuda"])
