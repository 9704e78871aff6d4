"""Transcribe audio files and score a manifest with a fine-tuned CTC model (``seqmask eval|transcribe``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from seqmask.data.audio import AudioChecks, decode
from seqmask.data.manifest import json_objects
from seqmask.eval.wer import evaluate_groups
from seqmask.speech.features import Utterance, fbank
from seqmask.speech.finetune import transcribe
from seqmask.speech.model import load_asr
from seqmask.speech.vocab import Vocabulary
from seqmask.store import ArtifactStore


def resolve_model(spec: str, store: ArtifactStore) -> Path:
    """``model.pt`` of a checkpoint file, a directory holding one, or a (prefix of a) finetune artifact key."""
    path = Path(spec)
    if path.is_file():
        return path
    if (path / "model.pt").is_file():
        return path / "model.pt"
    ref = store.get(store.resolve(spec))
    if ref is None:
        raise ValueError(f"artifact {spec} does not verify; rerun the flow that makes it")
    if not (ref.path / "model.pt").is_file():
        raise ValueError(f"artifact {ref.key[:12]} ({ref.stage}) holds no model.pt; expected a finetune-* artifact")
    return ref.path / "model.pt"


def audio_utterance(uid: str, audio: Path, text: str | None = None) -> Utterance:
    """Decode one audio file (any rate, mono or stereo) into model-ready filterbanks."""
    return Utterance(uid, fbank(decode(audio, AudioChecks(min_seconds=0.0, max_seconds=3600.0))).half(), text, "eval", "user", "unknown")


def transcribe_files(model_path: Path, files: Sequence[Path]) -> dict[str, str]:
    """Greedy transcripts keyed by file path."""
    model, meta = load_asr(model_path)
    utterances = [audio_utterance(str(f), Path(f)) for f in files]
    return transcribe(model, Vocabulary.from_dict(meta["vocab"]), utterances)


def evaluate_manifest(model_path: Path, manifest: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """WER/CER per ``split/source`` group of a JSONL manifest with ``id``, ``audio``, ``text`` (relative audio against the manifest)."""
    utterances, groups = [], {}
    for where, row in json_objects(manifest):
        missing = [key for key in ("id", "audio", "text") if not isinstance(row.get(key), str)]
        if missing:
            raise ValueError(f"{where}: expected string fields id, audio and text, missing or not strings: {missing}")
        uid, audio, text = row["id"], Path(row["audio"]), row["text"]
        audio = audio if audio.is_absolute() else manifest.parent / audio
        utterances.append(audio_utterance(uid, audio, text))
        groups[uid] = f"{row.get('split', 'eval')}/{row.get('source', manifest.stem)}"
    model, meta = load_asr(model_path)
    hyps = transcribe(model, Vocabulary.from_dict(meta["vocab"]), utterances)
    return evaluate_groups({u.id: u.text for u in utterances}, hyps, groups), hyps
