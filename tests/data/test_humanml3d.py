"""HumanML3D reading on a small dataset written in the HumanML3D layout: clips, captions, spans and rejects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqmask.data.humanml3d import FEATURES, REJECT_REASONS, read_humanml3d, read_split, read_statistics


def _write(root: Path, clip_id: str, features: np.ndarray | None, captions: list[str] | None) -> None:
    """One clip's feature file and text file (None: not written)."""
    if features is not None:
        np.save(root / "new_joint_vecs" / f"{clip_id}.npy", features)
    if captions is not None:
        (root / "texts" / f"{clip_id}.txt").write_text("".join(f"{line}\n" for line in captions))


@pytest.fixture
def humanml3d(tmp_path: Path) -> Path:
    """A HumanML3D root with good clips, one of each kind of bad clip, two splits and statistics."""
    rng = np.random.default_rng(0)
    (tmp_path / "new_joint_vecs").mkdir()
    (tmp_path / "texts").mkdir()
    _write(
        tmp_path,
        "000001",
        rng.normal(size=(60, FEATURES)),
        [
            "a person walks forward.#a/DET person/NOUN walk/VERB forward/ADV#0.0#0.0",
            "someone strolls ahead#someone/PRON stroll/VERB ahead/ADV#0.0#0.0",
            "the person jumps#the/DET person/NOUN jump/VERB#1.0#2.5",
        ],
    )
    _write(
        tmp_path,
        "000002",
        rng.normal(size=(80, FEATURES)).astype(np.float32),
        ["a man waves#a/DET man/NOUN wave/VERB#nan#nan"],
    )
    _write(tmp_path, "000003", rng.normal(size=(60, 200)), ["wrong width#wrong/ADJ width/NOUN#0.0#0.0"])
    nan = rng.normal(size=(60, FEATURES))
    nan[17, 5] = np.nan
    _write(tmp_path, "000004", nan, ["has a nan#have/VERB nan/NOUN#0.0#0.0"])
    _write(tmp_path, "000005", None, ["no features#no/DET feature/NOUN#0.0#0.0"])
    _write(tmp_path, "000006", rng.normal(size=(60, FEATURES)), None)
    _write(tmp_path, "000007", rng.normal(size=(10, FEATURES)), ["too short#too/ADV short/ADJ#0.0#0.0"])
    _write(tmp_path, "000008", rng.normal(size=(60, FEATURES)), ["", "   "])
    _write(tmp_path, "000009", rng.normal(size=(60, FEATURES)), ["one field only"])
    (tmp_path / "train.txt").write_text(
        "000001\n000002\n000003\n000004\n\n000005\n000006\n000007\n000008\n000009\n000001\n"
    )
    (tmp_path / "val.txt").write_text("000002\n")
    np.save(tmp_path / "Mean.npy", np.zeros(FEATURES, dtype=np.float32))
    np.save(tmp_path / "Std.npy", np.ones(FEATURES, dtype=np.float32))
    return tmp_path


def test_clips_captions_and_spans(humanml3d: Path) -> None:
    clips, _ = read_humanml3d(humanml3d, "train", min_frames=20)
    by_id = {clip.id: clip for clip in clips}
    assert list(by_id) == ["000001", "000001@1-2.5", "000002"]  # split order; a repeated id is read once
    whole = by_id["000001"]
    assert whole.captions == ("a person walks forward.", "someone strolls ahead")
    assert whole.features.dtype == np.float32 and whole.features.shape == (60, FEATURES)
    span = by_id["000001@1-2.5"]
    assert span.captions == ("the person jumps",)
    np.testing.assert_array_equal(span.features, whole.features[20:50])  # 1.0 s to 2.5 s at 20 fps
    assert by_id["000002"].captions == (
        "a man waves",
    )  # NaN times mean the whole clip, as the reference loader reads them


def test_rejects_name_the_clip_file_and_reason(humanml3d: Path) -> None:
    _, rejects = read_humanml3d(humanml3d, "train", min_frames=20)
    reasons = {
        reject.id: (Path(reject.origin).relative_to(humanml3d).as_posix(), f"{reject.reason}: {reject.detail}")
        for reject in rejects
    }
    assert sorted(reasons) == ["000003", "000004", "000005", "000006", "000007", "000008", "000009"]
    assert reasons["000003"] == (
        "new_joint_vecs/000003.npy",
        f"wrong_width: expected (T, {FEATURES}) features, found shape (60, 200)",
    )
    assert reasons["000004"] == (
        "new_joint_vecs/000004.npy",
        "not_finite: NaN or infinite features in 1 of 60 frames, first frame 17",
    )
    assert reasons["000005"] == ("new_joint_vecs/000005.npy", "missing_features: no feature file")
    assert reasons["000006"] == ("texts/000006.txt", "no_captions: no text file")
    assert reasons["000007"] == ("new_joint_vecs/000007.npy", "too_short: 10 frames, expected at least 20")
    assert reasons["000008"] == ("texts/000008.txt", "no_captions: the text file holds no caption lines")
    file, reason = reasons["000009"]
    assert file == "texts/000009.txt" and reason.startswith("bad_caption: ")
    assert "000009.txt:1: expected 'caption#tokens#start#end', found 1 '#'-separated fields" in reason
    assert all(reject.reason in REJECT_REASONS for reject in rejects)


def test_min_frames_applies_to_spans_too(humanml3d: Path) -> None:
    clips, rejects = read_humanml3d(humanml3d, "train")  # default 40 frames, the reference loader's 2 s
    assert [clip.id for clip in clips] == ["000001", "000002"]
    span = next(reject for reject in rejects if reject.id == "000001@1-2.5")
    assert (span.reason, span.detail) == ("too_short", "30 frames between 1 s and 2.5 s, expected at least 40")


def test_other_split_and_statistics(humanml3d: Path) -> None:
    clips, rejects = read_humanml3d(humanml3d, "val")
    assert [clip.id for clip in clips] == ["000002"] and rejects == []
    assert read_split(humanml3d, "train")[:2] == ["000001", "000002"]
    mean, std = read_statistics(humanml3d)
    assert mean.shape == std.shape == (FEATURES,) and mean.dtype == std.dtype == np.float32


def test_missing_root_split_or_statistics_is_a_clear_error(humanml3d: Path) -> None:
    with pytest.raises(FileNotFoundError, match=f"{humanml3d / 'nowhere'}: expected the HumanML3D root directory"):
        read_humanml3d(humanml3d / "nowhere", "train")
    with pytest.raises(FileNotFoundError, match=f"{humanml3d / 'test.txt'}: expected the HumanML3D test split file"):
        read_humanml3d(humanml3d, "test")
    with pytest.raises(ValueError, match=r"expected one of \('train', 'val', 'test'\), found 'dev'"):
        read_humanml3d(humanml3d, "dev")
    np.save(humanml3d / "Std.npy", np.ones(FEATURES - 1, dtype=np.float32))
    with pytest.raises(ValueError, match=f"Std.npy: expected shape \\({FEATURES},\\), found \\({FEATURES - 1},\\)"):
        read_statistics(humanml3d)
    np.save(humanml3d / "Std.npy", np.zeros(FEATURES, dtype=np.float32))
    with pytest.raises(ValueError, match="Std.npy: expected positive standard deviations, found 263 <= 0"):
        read_statistics(humanml3d)
    (humanml3d / "Mean.npy").unlink()
    with pytest.raises(FileNotFoundError, match="Mean.npy: expected the HumanML3D feature statistics Mean.npy"):
        read_statistics(humanml3d)
