"""The Dask ``text-tag`` stage's work on 2 workers against 1 (target >= 1.7x), same shards, one run.

    .venv/bin/python bench/tag_scaling.py [--copies 3] [--tagger-steps 200] [--repeat 2] [--quick]

Work: every monolingual training sentence of the shipped text corpus (``--copies``
times over, so that start-up is a small share), tagged in shards of the ``small``
preset's size by the pure ``tag_shard`` the ``text-tag`` stage maps, with taggers
trained from the shipped UD treebanks before timing. Both clusters are started and
warmed (each worker loads every tagger once) before anything is timed, and stay up
while they take turns, the order alternating from round to round (1, 2; 2, 1; ...) so
that load from elsewhere on the machine falls on both alike. Seconds: the best of
``--repeat`` rounds; speed-up: the median over rounds of the per-round paired ratio
(1-worker seconds / 2-worker seconds).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from pathlib import Path

from _common import (  # bench/ is first on sys.path
    bench_parser,
    median_ratio,
    order_note,
    parse_args,
    print_table,
    run_rounds,
)
from distributed import Client

from seqmask.app.root import load_experiment
from seqmask.data.bitext import Limits
from seqmask.executor import Executor, local_cluster
from seqmask.paths import resolve_path
from seqmask.text.artifacts import MODEL
from seqmask.text.prep import read_source, sources_of, split_corpus
from seqmask.text.stages.tag import tag_shard
from seqmask.text.tagging import train_tagger


def shards(
    out: Path, copies: int, steps: int, size: int = 0, per_language: int = 0
) -> list[tuple[str, str, list[str]]]:
    """``(tagger, language, texts)`` shards of ``size`` sentences (0: the small preset's ``sentences_per_task``), at
    most ``per_language`` of each language (0: all)."""
    config = load_experiment("small")
    prep = config.text_prep
    found = [
        read_source(source, Limits(min_chars=prep.min_chars, max_chars=prep.max_chars)) for source in sources_of(prep)
    ]
    corpus = split_corpus(found, test_pairs=prep.test_pairs, valid_pairs=prep.valid_pairs, seed=prep.seed)
    by_language: dict[str, list[str]] = {}
    for sentence in corpus.monolingual:
        by_language.setdefault(sentence.language, []).append(sentence.text)
    size = size or config.text.tag.sentences_per_task
    made = []
    for language, texts in sorted(by_language.items()):
        treebank = resolve_path(config.text.tag.source(language).treebank)
        train_tagger(treebank, language, out / language, max_steps=steps)
        texts = texts * copies
        of_language = [(str(out / language / MODEL), language, texts[i : i + size]) for i in range(0, len(texts), size)]
        made += of_language[:per_language] if per_language else of_language
    return made


def timed(executor: Executor, work: list[tuple[str, str, list[str]]]) -> float:
    started = time.perf_counter()
    executor.map(tag_shard, work, desc="tag")
    return time.perf_counter() - started


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--tagger-steps", type=int, default=200)
    parser.add_argument(
        "--repeat", type=int, default=2, help="timed rounds (each cluster once per round; best is reported)"
    )
    parser.add_argument("--shard-size", type=int, default=0, help="sentences per shard (default 0: the small preset's)")
    parser.add_argument(
        "--shards-per-language", type=int, default=0, help="at most this many shards of each language (default 0: all)"
    )
    args = parse_args(parser, {"copies": 1, "tagger_steps": 2, "repeat": 1, "shard_size": 40, "shards_per_language": 2})
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        work = shards(Path(tmp), args.copies, args.tagger_steps, args.shard_size, args.shards_per_language)
        sentences = sum(len(texts) for _, _, texts in work)
        warm = [(tagger, language, texts[:5]) for tagger, language, texts in {w[0]: w for w in work}.values()]
        executors = {}
        for workers in (1, 2):
            client = stack.enter_context(Client(stack.enter_context(local_cluster(workers))))
            executors[workers] = executor = Executor(client, show_bars=False)
            client.run(lambda: None)
            for _ in range(workers):
                executor.map(tag_shard, warm * workers, desc="warm-up")
        seconds = run_rounds(
            {str(workers): lambda e=executor: timed(e, work) for workers, executor in executors.items()}, args.repeat
        )
    print(
        f"{sentences} sentences in {len(work)} shards, seconds: best of {args.repeat}"
        f"{' (--quick: numbers mean nothing)' if args.quick else ''}"
    )
    print(order_note(list(seconds), args.repeat))
    print_table(
        ("Dask workers", "seconds", "sentences/s", "speed-up vs 1 worker"),
        ("r", "r", "r", "r"),
        [
            (
                workers,
                f"{min(values):.1f}",
                f"{sentences / min(values):.0f}",
                f"{median_ratio(seconds['1'], values):.2f}x",
            )
            for workers, values in seconds.items()
        ],
    )


if __name__ == "__main__":
    main()
