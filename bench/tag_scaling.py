"""The Dask ``tag`` stage's work on 2 workers against 1 (target >= 1.7x), same shards, one run.

    .venv/bin/python bench/tag_scaling.py [--copies 3] [--tagger-steps 200] [--repeat 2]

Work: every monolingual training sentence of the shipped text corpus (``--copies``
times over, so that start-up is a small share), tagged in shards of the ``small``
preset's size by the pure ``tag_shard`` the ``tag`` stage maps, with taggers
trained from the shipped UD treebanks before timing. Each cluster is started and
warmed (each worker loads every tagger once) before it is timed; the best of
``--repeat`` timings is kept.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from distributed import Client

from seqmask.config import load_config
from seqmask.data.bitext import Limits
from seqmask.executor import Executor, local_cluster
from seqmask.paths import resolve_path
from seqmask.text.prep import read_source, sources_of, split_corpus
from seqmask.text.stages.tag import tag_shard
from seqmask.text.tagging import train_tagger


def shards(out: Path, copies: int, steps: int) -> list[tuple[str, str, list[str]]]:
    config = load_config("small")
    prep = config.text_prep
    found = [read_source(source, Limits(min_chars=prep.min_chars, max_chars=prep.max_chars)) for source in sources_of(prep)]
    corpus = split_corpus(found, test_pairs=prep.test_pairs, valid_pairs=prep.valid_pairs, seed=prep.seed)
    by_language: dict[str, list[str]] = {}
    for sentence in corpus.monolingual:
        by_language.setdefault(sentence.language, []).append(sentence.text)
    size = config.text.tag.sentences_per_task
    made = []
    for language, texts in sorted(by_language.items()):
        treebank = resolve_path(config.text.tag.source(language).treebank)
        train_tagger(treebank, language, out / language, max_steps=steps)
        texts = texts * copies
        made += [(str(out / language / "model"), language, texts[i : i + size]) for i in range(0, len(texts), size)]
    return made


def timed(executor: Executor, work: list[tuple[str, str, list[str]]]) -> float:
    started = time.perf_counter()
    executor.map(tag_shard, work, desc="tag")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--tagger-steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = shards(Path(tmp), args.copies, args.tagger_steps)
        sentences = sum(len(texts) for _, _, texts in work)
        warm = [(tagger, language, texts[:5]) for tagger, language, texts in {w[0]: w for w in work}.values()]
        seconds = {}
        for workers in (1, 2):
            with local_cluster(workers) as cluster, Client(cluster) as client:
                executor = Executor(client, show_bars=False)
                client.run(lambda: None)
                for _ in range(workers):
                    executor.map(tag_shard, warm * workers, desc="warm-up")
                seconds[workers] = min(timed(executor, work) for _ in range(args.repeat))
    print(f"{sentences} sentences in {len(work)} shards, best of {args.repeat}")
    print("| Dask workers | seconds | sentences/s | speed-up vs 1 worker |\n|---:|---:|---:|---:|")
    for workers, value in seconds.items():
        print(f"| {workers} | {value:.1f} | {sentences / value:.0f} | {seconds[1] / value:.2f}x |")


if __name__ == "__main__":
    main()
