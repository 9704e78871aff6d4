"""Stick-figure GIFs and PNG strips, read back with Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from motion_files import run_measured
from PIL import Image

from seqmask.motion.render import (
    GIF_DPI,
    GIF_PANEL_INCHES,
    PNG_DPI,
    PNG_PANEL_INCHES,
    TITLE_CHARS,
    render_frames_png,
    render_gif,
    short_title,
)

PARENTS = [-1, 0, 1, 0, 3]
"""Root (pelvis), spine, head, and one leg of two joints."""


def _walker(frames: int, step: float) -> np.ndarray:
    """A five-joint stick figure (F, 5, 3), y up, moving along x by ``step`` metres per frame and swinging its leg."""
    rest = np.array([[0.0, 1.0, 0.0], [0.0, 1.4, 0.0], [0.0, 1.7, 0.0], [0.1, 0.5, 0.0], [0.1, 0.0, 0.0]])  # (5, 3)
    t = np.arange(frames)[:, None]  # (F, 1)
    motion = np.repeat(rest[None], frames, axis=0)  # (F, 5, 3)
    motion[:, :, 0] += step * t
    motion[:, 4, 2] += 0.3 * np.sin(t[:, 0] / 2.0)
    return motion


def test_gif_has_one_frame_per_frame_of_the_longest_motion(tmp_path):
    motions = [_walker(7, 0.05), _walker(4, -0.1)]
    path = render_gif(tmp_path / "clips" / "walk.gif", motions, parents=PARENTS, titles=["long", "short"], fps=10)
    assert path == tmp_path / "clips" / "walk.gif"
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.n_frames == 7
        panel = round(GIF_PANEL_INCHES * GIF_DPI)
        assert gif.size == (2 * panel, panel)
        assert gif.info["duration"] == 100


def test_png_strip_has_one_panel_per_frame_and_motion(tmp_path):
    motions = [_walker(9, 0.05), _walker(3, 0.1), _walker(1, 0.0)]
    path = render_frames_png(tmp_path / "strip.png", motions, parents=PARENTS, titles=["a", "b", "c"], frames=4)
    panel = round(PNG_PANEL_INCHES * PNG_DPI)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.size == (4 * panel, 3 * panel)


def test_z_up_motions_render(tmp_path):
    z_up = _walker(3, 0.1)[..., [0, 2, 1]]
    path = render_frames_png(tmp_path / "z.png", [z_up], parents=PARENTS, titles=["z up"], frames=2, up_axis=2)
    assert path.stat().st_size > 0


def test_bad_inputs_name_the_problem(tmp_path):
    motion = _walker(3, 0.1)
    with pytest.raises(ValueError, match=r"parents to have one entry per joint \(5 in motion 0\), found 4"):
        render_gif(tmp_path / "out" / "a.gif", [motion], parents=PARENTS[:4], titles=["a"])
    with pytest.raises(ValueError, match=r"motion 1 of shape \(frames, joints, 3\), found shape \(3, 15\)"):
        render_gif(tmp_path / "a.gif", [motion, motion.reshape(3, 15)], parents=PARENTS, titles=["a", "b"])
    with pytest.raises(ValueError, match=r"parents\[2\] to be -1 or another joint index below 5, found 2"):
        render_frames_png(tmp_path / "a.png", [motion], parents=[-1, 0, 2, 0, 3], titles=["a"])
    with pytest.raises(ValueError, match=r"parents without cycles"):
        render_frames_png(tmp_path / "a.png", [motion], parents=[-1, 2, 1, 0, 3], titles=["a"])
    with pytest.raises(ValueError, match=r"one title per motion \(1\), found 2 titles"):
        render_gif(tmp_path / "a.gif", [motion], parents=PARENTS, titles=["a", "b"])
    with pytest.raises(ValueError, match=r"ending in \.gif, found '.*a\.png'"):
        render_gif(tmp_path / "a.png", [motion], parents=PARENTS, titles=["a"])
    with pytest.raises(ValueError, match=r"up_axis 0, 1 or 2, found 3"):
        render_gif(tmp_path / "a.gif", [motion], parents=PARENTS, titles=["a"], up_axis=3)
    assert not list(tmp_path.iterdir())  # nothing written, no folder made


def test_long_titles_are_cut_to_a_line_of_title_chars_with_an_ellipsis():
    assert short_title("a person bows") == "a person bows"
    assert short_title("x" * TITLE_CHARS) == "x" * TITLE_CHARS
    assert short_title("x" * (TITLE_CHARS + 1)) == "x" * (TITLE_CHARS - 1) + "\u2026"
    assert short_title("y" * 500 + "\nframe 3") == "y" * (TITLE_CHARS - 1) + "\u2026\nframe 3"


def test_a_gif_with_a_100000_character_title_renders_without_laying_out_the_whole_title(tmp_path):
    """Laying out the whole title took about 5 s a frame (30 frames: minutes); cut, the GIF takes about a second. The
    timeout only catches the old behaviour, with a wide margin."""
    path = tmp_path / "long.gif"
    np.save(tmp_path / "walk.npy", _walker(30, 0.05))
    measured = run_measured(
        f"""
        import numpy as np
        from seqmask.motion.render import render_gif
        motion = np.load({str(tmp_path / "walk.npy")!r})  # (F, J, 3)
    """,
        f"result = str(render_gif({str(path)!r}, [motion], parents={PARENTS!r}, titles=['a person bows ' * 7143]))",
        timeout=60,
    )
    assert measured["result"] == str(path)
    with Image.open(path) as gif:
        assert gif.n_frames == 30
