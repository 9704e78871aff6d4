"""The Free Spoken Digit Dataset: ``{digit}_{speaker}_{index}.{flac,wav}`` recordings of spoken digits."""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from seqmask.data.files import audio_files, existing_dir
from seqmask.data.manifest import RawAudio

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def collect_fsdd(
    root: Path,
    *,
    heldout_speaker: str,
    test_indices: Collection[int] = range(0, 5),
    valid_indices: Collection[int] = range(5, 10),
) -> list[RawAudio]:
    """The Free Spoken Digit Dataset's ``{digit}_{speaker}_{index}.{flac,wav}`` files in ``root``.

    Every file of ``heldout_speaker`` goes to ``"test_mismatched"``. For the
    other speakers, takes in ``test_indices`` (FSDD's official test split is
    0-4) go to ``"test_matched"``, takes in ``valid_indices`` to ``"valid"``
    and the rest to ``"train"``. The text is the digit as an English word.
    """
    root = existing_dir(root, "FSDD")
    overlap = set(test_indices) & set(valid_indices)
    if overlap:
        raise ValueError(f"FSDD test_indices and valid_indices must be disjoint, both hold {sorted(overlap)}")
    pattern = re.compile(r"(\d)_([^_]+)_(\d+)")
    files = audio_files(root, recursive=False)
    if not files:
        raise FileNotFoundError(f"{root}: expected FSDD {{digit}}_{{speaker}}_{{index}}.flac/.wav files, found none")
    parsed = []
    for path in files:
        match = pattern.fullmatch(path.stem)
        if match is None:
            raise ValueError(f"{path}: expected an FSDD name {{digit}}_{{speaker}}_{{index}}, found {path.name!r}")
        parsed.append((path, int(match[1]), match[2], int(match[3])))
    speakers = sorted({speaker for _, _, speaker, _ in parsed})
    if heldout_speaker not in speakers:
        raise ValueError(f"FSDD heldout_speaker {heldout_speaker!r} not found in {root}; speakers found: {speakers}")
    records = []
    for path, digit, speaker, index in parsed:
        if speaker == heldout_speaker:
            split = "test_mismatched"
        elif index in test_indices:
            split = "test_matched"
        elif index in valid_indices:
            split = "valid"
        else:
            split = "train"
        records.append(
            RawAudio(
                id=f"fsdd-{path.stem}",
                audio=str(path.resolve()),
                text=DIGIT_WORDS[digit],
                speaker=speaker,
                language="en",
                split=split,
                source="fsdd",
            )
        )
    return records
