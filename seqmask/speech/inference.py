"""Transcribe audio files and score a manifest with a fine-tuned CTC model (``seqmask eval|transcribe``).

The model is loaded (and so checked) before any audio is decoded. An audio file that
cannot be used does not stop the others: it is returned with its :class:`AudioError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fairseq2.models.wav2vec2.asr import Wav2Vec2AsrModel

from seqmask.data.audio import AudioChecks, AudioError, decode
from seqmask.eval.wer import evaluate_groups
from seqmask.files import json_objects
from seqmask.speech.artifacts import MODEL
from seqmask.speech.decode import transcribe
from seqmask.speech.features import Utterance, fbank
from seqmask.speech.model import load_asr
from seqmask.speech.readers import model_file
from seqmask.speech.vocab import Vocabulary
from seqmask.store import ArtifactNotFound, ArtifactStore

INFERENCE_CHECKS = AudioChecks(min_seconds=0.0, max_seconds=3600.0)
"""Any rate, mono or stereo, up to an hour."""


def resolve_model(spec: str, store: ArtifactStore) -> Path:
    """The checkpoint of a checkpoint file, a directory holding one, or a (prefix of a) finetune artifact key."""
    path = Path(spec)
    if path.is_file():
        return path
    if path.is_dir():
        if not model_file(path).is_file():
            raise FileNotFoundError(f"--model {spec}: the directory holds no {MODEL}")
        return model_file(path)
    try:
        key = store.resolve(spec)
    except (ArtifactNotFound, ValueError):
        raise FileNotFoundError(
            f"--model {spec}: no such file or directory, and no artifact key in {store.objects} starts with it"
        ) from None
    ref = store.get(key)
    if ref is None:
        raise ValueError(f"artifact {spec} does not verify; rerun the flow that makes it")
    if not model_file(ref.path).is_file():
        raise ValueError(
            f"artifact {ref.key[:12]} ({ref.stage}) holds no {MODEL}; expected a speech-finetune-* artifact"
        )
    return model_file(ref.path)


def load_model(model_path: Path) -> tuple[Wav2Vec2AsrModel, Vocabulary]:
    """The CTC model of a seqmask checkpoint and its output units."""
    model, meta = load_asr(model_path)
    return model, Vocabulary.from_dict(meta["vocab"])


def decode_utterances(items: Sequence[tuple[str, Path, str | None]]) -> tuple[list[Utterance], dict[str, AudioError]]:
    """``(id, audio, text)`` items as model-ready filterbanks; the ones that cannot be decoded, by id, with their
    error."""
    utterances, failures = [], {}
    for uid, audio, text in items:
        try:
            wave = decode(audio, INFERENCE_CHECKS)  # (T,)
        except AudioError as err:
            failures[uid] = err
            continue
        utterances.append(Utterance(uid, fbank(wave).half(), text, "eval", "user", "unknown"))
    return utterances, failures


def transcribe_files(
    model: Wav2Vec2AsrModel, vocab: Vocabulary, files: Sequence[Path]
) -> tuple[dict[str, str], dict[str, AudioError]]:
    """Greedy transcripts keyed by file path, and the files that could not be decoded."""
    utterances, failures = decode_utterances([(str(f), Path(f), None) for f in files])
    return (transcribe(model, vocab, utterances) if utterances else {}), failures


def evaluate_manifest(
    model: Wav2Vec2AsrModel, vocab: Vocabulary, manifest: Path
) -> tuple[dict[str, Any], dict[str, str], dict[str, AudioError]]:
    """WER/CER per ``split/source`` group of a JSONL manifest with ``id``, ``audio``, ``text`` (relative audio against
    the manifest), the hypotheses, and the records whose audio could not be decoded (left out of the rates)."""
    items, groups = [], {}
    for where, row in json_objects(manifest):
        missing = [key for key in ("id", "audio", "text") if not isinstance(row.get(key), str)]
        if missing:
            raise ValueError(f"{where}: expected string fields id, audio and text, missing or not strings: {missing}")
        audio = Path(row["audio"])
        items.append((row["id"], audio if audio.is_absolute() else manifest.parent / audio, row["text"]))
        groups[row["id"]] = f"{row.get('split', 'eval')}/{row.get('source', manifest.stem)}"
    utterances, failures = decode_utterances(items)
    if not utterances:
        return {}, {}, failures
    hyps = transcribe(model, vocab, utterances)
    refs = {u.id: u.text for u in utterances}
    return evaluate_groups(refs, hyps, {uid: groups[uid] for uid in refs}), hyps, failures
