"""``seqmask generate`` on an untrained tiny model (prep of five real clips, a word-bag text encoder, a denoiser of 20
diffusion steps): the default steps fit the model, and bad requests are refused by option name before a model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from motion_files import bandai_copy, build_prep

from seqmask.cli import main
from seqmask.masking.params.motion import MotionMaskParams
from seqmask.motion.artifacts import MODEL_DIR, TEXT_ENCODER_DIR
from seqmask.motion.bvh import read_bvh
from seqmask.motion.captions import WordVocabulary
from seqmask.motion.config import DenoiserConfig
from seqmask.motion.encoders import ConvMotionEncoder, TextMotionModel, WordBagEncoder
from seqmask.motion.inference import MAX_TEXT_CHARS, check_request, sampling_steps
from seqmask.motion.models import SentenceEncoder, build_denoiser, save_denoiser, save_text_encoder
from seqmask.motion.readers import read_skeleton
from seqmask.store import ArtifactStore

DIFFUSION_STEPS = 20
"""The tiny preset's diffusion steps: fewer than ``--steps``' old default of 50."""
CLIPS = ["bow_active_001", "bow_angry_001", "bow_childish_001", "bow_chimpira_001", "bow_feminine_001"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A folder laid out as a ``motion-train`` artifact (``prep/``, ``text_encoder/``, ``model/``), untrained."""
    work = tmp_path_factory.mktemp("model")
    skeleton = read_skeleton(build_prep(bandai_copy(work / "bandai", dict.fromkeys(CLIPS)), work))
    vocabulary = WordVocabulary(["a", "person", "bows"])
    encoder = SentenceEncoder(
        model=TextMotionModel(WordBagEncoder(len(vocabulary.words), 8), ConvMotionEncoder(skeleton.features, 8)),
        vocabulary=vocabulary,
    )
    save_text_encoder(work / TEXT_ENCODER_DIR, encoder)
    config = DenoiserConfig(hidden=16, layers=1, heads=2, ffn=32)
    save_denoiser(
        work / MODEL_DIR,
        build_denoiser(config, skeleton, 8),
        config=config,
        mask=MotionMaskParams(),
        skeleton=skeleton,
        diffusion_steps=DIFFUSION_STEPS,
        text=encoder.identity,
        text_dim=8,
    )
    return work


@pytest.fixture
def store(tmp_path, monkeypatch) -> ArtifactStore:
    monkeypatch.setenv("SEQMASK_HOME", str(tmp_path / "store"))
    return ArtifactStore()


def test_the_default_steps_fit_a_model_of_fewer_diffusion_steps(model, store, tmp_path) -> None:
    assert main(["generate", "--model", str(model), "--text", "a person bows", "--out", str(tmp_path / "bow")]) == 0
    assert read_bvh(tmp_path / "bow.bvh").frame_count == 60 and (tmp_path / "bow.gif").stat().st_size > 0


def test_too_many_steps_are_refused_naming_the_option_the_value_and_the_range(model, store, tmp_path, capsys) -> None:
    assert (
        main(
            [
                "generate",
                "--model",
                str(model),
                "--text",
                "a person bows",
                "--steps",
                "21",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert (
        "--steps: expected a number of DDIM steps in [1, 20] (the model was trained with 20 diffusion steps), found 21"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "x.bvh").exists()


def test_sampling_steps_default_to_50_or_all_the_models_steps() -> None:
    assert sampling_steps(None, DIFFUSION_STEPS) == DIFFUSION_STEPS and sampling_steps(None, 1000) == 50
    assert sampling_steps(DIFFUSION_STEPS, DIFFUSION_STEPS) == DIFFUSION_STEPS
    with pytest.raises(ValueError, match=r"--steps: expected a number of DDIM steps in \[1, 20\].*, found 0"):
        sampling_steps(0, DIFFUSION_STEPS)


@pytest.mark.parametrize(("guidance", "found"), [("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("0.5", "0.5")])
def test_a_guidance_that_is_not_a_finite_scale_of_at_least_1_is_refused(
    model, store, tmp_path, capsys, guidance, found
) -> None:
    assert (
        main(
            [
                "generate",
                "--model",
                str(model),
                "--text",
                "a person bows",
                f"--guidance={guidance}",
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 2
    )
    assert (
        f"--guidance: expected a finite classifier-free guidance scale >= 1 (1: none), found {found}"
        in capsys.readouterr().err
    )


def test_a_text_over_the_limit_is_refused_and_one_at_it_passes(store, tmp_path) -> None:
    check_request("a" * MAX_TEXT_CHARS, 2.5, tmp_path / "x", store)
    with pytest.raises(
        ValueError, match=f"--text: expected a caption of at most {MAX_TEXT_CHARS} characters, found 100000"
    ):
        check_request("a" * 100_000, 2.5, tmp_path / "x", store)


def test_an_out_inside_the_published_artifacts_is_refused(model, store, tmp_path, capsys) -> None:
    inside = store.objects / "0123abcd" / "render" / "x"
    assert main(["generate", "--model", str(model), "--text", "a person bows", "--out", str(inside)]) == 2
    assert (
        f"--out {inside}: expected a path outside the artifact store's published artifacts {store.objects}"
        in capsys.readouterr().err
    )
    assert not inside.parent.exists()
    check_request("a person bows", 1.0, store.root / "elsewhere" / "x", store)
