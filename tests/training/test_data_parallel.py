"""The shared loop, data-parallel over 2 real gloo processes, takes the steps one process takes with the whole batch.

The unit is deterministic (least squares on fixed data, no dropout or noise), so the two runs must agree to float
rounding: losses, weights, a parameter only one rank's examples reach, and one no example reaches (no gradient
anywhere: AdamW must leave it alone, weight decay included).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from fairseq2.gang import FakeGang
from torch import Tensor, nn

from seqmask.training.config import TrainingConfig
from seqmask.training.distributed import shard
from seqmask.training.loop import shuffled_batches, train

EXAMPLES, FEATURES, BATCH = 48, 5, 8
CONFIG = TrainingConfig(steps=12, lr=0.05, warmup_steps=2, weight_decay=0.1, checkpoint_every=5, log_every=1, seed=3)


class Regression(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(FEATURES, 1)
        self.first_example_bias = nn.Parameter(torch.zeros(()))  # reached only by batches holding example 0
        self.unused = nn.Parameter(torch.ones(3))  # reached by no example


class RegressionUnit:
    """Least squares on fixed data; the first example also trains ``first_example_bias``."""

    def __init__(self) -> None:
        data = torch.Generator().manual_seed(11)
        self.x = torch.randn(EXAMPLES, FEATURES, generator=data)  # (N, F)
        self.y = self.x @ torch.randn(FEATURES, generator=data) + 0.1 * torch.randn(EXAMPLES, generator=data)  # (N,)
        self.model = Regression()

    def epoch(self, generator: torch.Generator) -> list[list[int]]:
        return shuffled_batches(EXAMPLES, BATCH, generator)

    def loss(self, batch: Sequence[int], step: int) -> tuple[Tensor, Mapping[str, float]]:
        index = torch.tensor(batch)
        predicted = self.model.linear(self.x[index]).squeeze(-1)  # (B,)
        if 0 in batch:
            predicted = predicted + (index == 0).float() * self.model.first_example_bias
        return ((predicted - self.y[index]) ** 2).mean(), {}

    def identity(self) -> dict:
        return {"unit": "regression"}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _train(out: Path) -> dict:
    unit, summary = train(RegressionUnit, CONFIG, out_dir=out, work_dir=out / "work", device=torch.device("cpu"))
    return {"summary": summary, "weights": {name: p.detach().tolist() for name, p in unit.model.named_parameters()}}


def _rank(rank: int, port: int, out: str) -> None:
    from fairseq2.gang import ProcessGroupGang, create_parallel_gangs, set_default_gangs

    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    gangs = create_parallel_gangs(ProcessGroupGang.create_default_process_group(torch.device("cpu")))
    set_default_gangs(gangs)
    try:
        result = _train(Path(out) / f"rank{rank}")
    finally:
        gangs.close()
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(result))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _losses(out: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_two_gloo_processes_take_the_steps_of_one_process_with_the_whole_batch(tmp_path) -> None:
    alone = _train(tmp_path / "alone")
    mp.spawn(_rank, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]

    assert ranks[0]["weights"] == ranks[1]["weights"]  # replicas in sync, bit for bit
    assert ranks[0]["summary"]["processes"] == 2 and alone["summary"]["processes"] == 1
    assert _losses(tmp_path / "rank0") == pytest.approx(_losses(tmp_path / "alone"), rel=1e-5)
    assert _losses(tmp_path / "rank0") == _losses(tmp_path / "rank1")  # both log the mean over ranks
    for name, weights in alone["weights"].items():
        assert torch.allclose(torch.tensor(ranks[0]["weights"][name]), torch.tensor(weights), atol=1e-6), name
    assert (
        alone["weights"]["first_example_bias"] != 0.0
    )  # it trained, so the averaging of a one-rank gradient is tested
    assert ranks[0]["weights"]["unused"] == [1.0, 1.0, 1.0]  # no gradient anywhere: not even weight decay touched it
    assert (tmp_path / "rank0" / "work" / "last.pt").is_file() and not (
        tmp_path / "rank1" / "work" / "last.pt"
    ).exists()


def test_a_batch_smaller_than_the_number_of_processes_is_refused() -> None:
    assert shard([4, 5, 6, 7], FakeGang(torch.device("cpu"), rank=1, size=2)) == [5, 7]
    with pytest.raises(ValueError, match="cannot be split over 3 processes"):
        shard([1, 2], FakeGang(torch.device("cpu"), rank=0, size=3))
