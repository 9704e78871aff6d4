"""Rebuild the project's embedded data (``data/``) from a copy of the public sources.

Usage::

    python data/make_embedded.py SOURCE_DIR [--dest DATA_DIR]

``SOURCE_DIR`` holds the public sources laid out as::

    speech/fsdd/recordings/{digit}_{speaker}_{index}.wav   (+ metadata.py.txt)
    speech/ljspeech_samples/LJ*.wav                         (+ metadata.csv)
    text/tatoeba/tatoeba.{xxx}-eng.{xxx|eng}
    text/libreoffice-l10n/libreoffice_en-{si,ta}.tsv
    text/ud/UD_*/{*.conllu, LICENSE.txt, README.md}
    motion/bandai-1/{data/*.bvh, data/*.json, cfg/*.txt, LICENSE, README.md}

and this script writes, under ``DATA_DIR`` (default: the folder of this script):

* ``speech/fsdd/``: every recording as 16-bit FLAC at its original rate, the
  speaker metadata as ``speakers.json`` and ``LICENSE.md``;
* ``speech/ljspeech/``: every clip as 16-bit FLAC, ``metadata.csv`` unchanged
  and ``LICENSE.md``;
* ``text/tatoeba/``: every ``tatoeba.*`` file gzipped (reproducibly: no name
  or time stamp in the gzip header) and ``LICENSE.md``;
* ``text/libreoffice/``: the English-Sinhala and English-Tamil pairs gzipped, and ``LICENSE.md``;
* ``text/ud/UD_*/``: every treebank's ``.conllu`` files gzipped, its ``LICENSE.txt`` and ``README.md`` unchanged.
* ``motion/bandai-1/``: every BVH clip gzipped (40 MB -> 11 MB), its JSON label, ``cfg/``, ``LICENSE`` and
  ``README.md`` unchanged.

The WAV -> FLAC conversion is checked to be lossless (same rate, channels and
samples) before each file is kept. The run is deterministic: rerunning it on
the same sources gives byte-identical files.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

FSDD_LICENSE = """\
# Free Spoken Digit Dataset (FSDD)

Source: https://github.com/Jakobovski/free-spoken-digit-dataset
(Zohar Jackson et al., "Free Spoken Digit Dataset", Zenodo, doi:10.5281/zenodo.1342401).

Licence: Creative Commons Attribution-ShareAlike 4.0 International (CC BY-SA 4.0),
https://creativecommons.org/licenses/by-sa/4.0/

Changes made here: the 2500 recordings of the five speakers present in our copy
(george, jackson, nicolas, theo, yweweler) were converted from 16-bit WAV to
16-bit FLAC, losslessly (same 8 kHz sample rate, same samples, same file names
with `.flac`). `speakers.json` is the speaker dictionary of the dataset's
`metadata.py`, restricted to those five speakers. Nothing else was changed.
This folder is distributed under the same licence (CC BY-SA 4.0).
"""

LJSPEECH_LICENSE = """\
# LJSpeech samples

Source: the 32 LJSpeech clips in `tests/data/ljspeech` of
https://github.com/coqui-ai/TTS, taken from The LJ Speech Dataset by Keith Ito
(https://keithito.com/LJ-Speech-Dataset/).

Licence: public domain (the LJ Speech Dataset is in the public domain).

Changes made here: the clips were converted from 16-bit WAV to 16-bit FLAC,
losslessly (same 22.05 kHz sample rate, same samples). `metadata.csv` is
unchanged (`id|transcript|normalised transcript`; only the first 8 clips have
a transcript).
"""

TATOEBA_LICENSE = """\
# Tatoeba test sets (LASER)

Source: `data/tatoeba/v1` of https://github.com/facebookresearch/LASER, which
extracts up to 1000 English sentences and their translations per language from
the Tatoeba corpus (https://tatoeba.org, dump of 2018-11-17).

Licence: Tatoeba sentences are under Creative Commons Attribution 2.0 France
(CC BY 2.0 FR), https://creativecommons.org/licenses/by/2.0/fr/ ;
see https://tatoeba.org/eng/terms_of_use for the attribution of each sentence.

Changes made here: each `tatoeba.{xxx}-eng.{xxx|eng}` file was gzipped
(`<name>.gz`); the text is unchanged.
"""


LIBREOFFICE_LICENSE = """\
# LibreOffice interface strings, English-Sinhala and English-Tamil

Source: the `.mo` message catalogues of Debian's `libreoffice-l10n-si` and
`libreoffice-l10n-ta` packages (translations by the LibreOffice localisation
teams, https://www.libreoffice.org). Pairs of interface strings of four or more
English words, `english<TAB>translation`, deduplicated: 2,213 English-Sinhala
and 4,072 English-Tamil.

Licence: Mozilla Public License 2.0, https://mozilla.org/MPL/2.0/

Changes made here: each `.tsv` file was gzipped (`<name>.gz`); the text is unchanged.
"""


def gzip_file(src: Path, dst: Path) -> None:
    """Gzip ``src`` to ``dst`` reproducibly: no file name or mtime in the header."""
    with open(dst, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as out:
        out.write(src.read_bytes())


def convert_to_flac(src: Path, dst: Path) -> None:
    """Write ``src`` (a 16-bit PCM WAV) as 16-bit FLAC at ``dst`` and check it is lossless."""
    subtype = sf.info(src).subtype
    if subtype != "PCM_16":
        raise ValueError(f"{src}: expected 16-bit PCM WAV, found {subtype}")
    samples, rate = sf.read(src, dtype="int16", always_2d=True)  # (T, C)
    sf.write(dst, samples, rate, format="FLAC", subtype="PCM_16", compression_level=1.0)
    back, back_rate = sf.read(dst, dtype="int16", always_2d=True)
    if back_rate != rate or not np.array_equal(back, samples):
        raise RuntimeError(f"{dst}: FLAC round trip of {src} is not lossless")


def fsdd_speakers(metadata_py: Path, present: set[str]) -> dict[str, dict[str, str]]:
    """Parse the ``metadata = {...}`` literal of FSDD's ``metadata.py``, keeping ``present`` speakers."""
    module = ast.parse(metadata_py.read_text(encoding="utf-8"))
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "metadata" for t in node.targets):
            metadata = ast.literal_eval(node.value)
            missing = present - metadata.keys()
            if missing:
                raise ValueError(f"{metadata_py}: no metadata for speakers {sorted(missing)}")
            return {name: metadata[name] for name in sorted(present)}
    raise ValueError(f"{metadata_py}: expected a `metadata = {{...}}` assignment, found none")


def make_fsdd(src: Path, dst: Path) -> None:
    """FSDD recordings -> FLAC, plus ``speakers.json`` and ``LICENSE.md``."""
    wavs = sorted((src / "recordings").glob("*.wav"))
    if not wavs:
        raise FileNotFoundError(f"{src / 'recordings'}: expected FSDD *.wav files, found none")
    dst.mkdir(parents=True, exist_ok=True)
    for wav in wavs:
        convert_to_flac(wav, dst / f"{wav.stem}.flac")
    speakers = fsdd_speakers(src / "metadata.py.txt", {w.stem.split("_")[1] for w in wavs})
    (dst / "speakers.json").write_text(json.dumps(speakers, indent=2) + "\n", encoding="utf-8")
    (dst / "LICENSE.md").write_text(FSDD_LICENSE, encoding="utf-8")


def make_ljspeech(src: Path, dst: Path) -> None:
    """LJSpeech sample clips -> FLAC, plus ``metadata.csv`` and ``LICENSE.md``."""
    wavs = sorted(src.glob("*.wav"))
    if not wavs:
        raise FileNotFoundError(f"{src}: expected LJSpeech *.wav files, found none")
    dst.mkdir(parents=True, exist_ok=True)
    for wav in wavs:
        convert_to_flac(wav, dst / f"{wav.stem}.flac")
    shutil.copyfile(src / "metadata.csv", dst / "metadata.csv")
    (dst / "LICENSE.md").write_text(LJSPEECH_LICENSE, encoding="utf-8")


def gzip_texts(src: Path, pattern: str, dst: Path, licence: str) -> None:
    """Gzip every file of ``src`` matching ``pattern`` into ``dst`` (no file name or mtime in the header), plus
    ``LICENSE.md``."""
    texts = sorted(p for p in src.glob(pattern) if p.suffix != ".gz")
    if not texts:
        raise FileNotFoundError(f"{src}: expected {pattern} files, found none")
    dst.mkdir(parents=True, exist_ok=True)
    for text in texts:
        gzip_file(text, dst / f"{text.name}.gz")
    (dst / "LICENSE.md").write_text(licence, encoding="utf-8")


def make_ud(src: Path, dst: Path) -> None:
    """Each ``UD_*`` treebank: its ``.conllu`` files gzipped, ``LICENSE.txt`` and ``README.md`` copied."""
    treebanks = sorted(p for p in src.glob("UD_*") if p.is_dir())
    if not treebanks:
        raise FileNotFoundError(f"{src}: expected UD_* treebank folders, found none")
    for treebank in treebanks:
        out = dst / treebank.name
        out.mkdir(parents=True, exist_ok=True)
        for conllu in sorted(treebank.glob("*.conllu")):
            gzip_file(conllu, out / f"{conllu.name}.gz")
        for name in ("LICENSE.txt", "README.md"):
            shutil.copyfile(treebank / name, out / name)


def make_bandai(src: Path, dst: Path) -> None:
    """Bandai-Namco-Research-Motiondataset-1: the BVH clips gzipped, labels, label names, licence and README copied."""
    clips = sorted((src / "data").glob("*.bvh"))
    if not clips:
        raise FileNotFoundError(f"{src / 'data'}: expected *.bvh clips, found none")
    (dst / "data").mkdir(parents=True, exist_ok=True)
    (dst / "cfg").mkdir(parents=True, exist_ok=True)
    for clip in clips:
        gzip_file(clip, dst / "data" / f"{clip.name}.gz")
        shutil.copyfile(clip.with_suffix(".json"), dst / "data" / clip.with_suffix(".json").name)
    for name in sorted((src / "cfg").glob("*.txt")):
        shutil.copyfile(name, dst / "cfg" / name.name)
    for name in ("LICENSE", "README.md"):
        shutil.copyfile(src / name, dst / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="folder holding speech/ and text/ sources")
    parser.add_argument("--dest", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    make_fsdd(args.source / "speech" / "fsdd", args.dest / "speech" / "fsdd")
    make_ljspeech(args.source / "speech" / "ljspeech_samples", args.dest / "speech" / "ljspeech")
    gzip_texts(args.source / "text" / "tatoeba", "tatoeba.*", args.dest / "text" / "tatoeba", TATOEBA_LICENSE)
    gzip_texts(
        args.source / "text" / "libreoffice-l10n",
        "libreoffice_en-*.tsv",
        args.dest / "text" / "libreoffice",
        LIBREOFFICE_LICENSE,
    )
    make_ud(args.source / "text" / "ud", args.dest / "text" / "ud")
    make_bandai(args.source / "motion" / "bandai-1", args.dest / "motion" / "bandai-1")


if __name__ == "__main__":
    main()
