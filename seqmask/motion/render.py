"""Stick-figure pictures of motions: side-by-side GIF animations and static PNG strips of a few frames.

A motion is an array (F, J, 3) of joint positions in metres; ``parents[j]`` is the index of joint
``j``'s parent, -1 for a root, and each bone joins a joint to its parent. ``up_axis`` names the
vertical data axis (1: y up); the two others are drawn in cyclic order after it, so the picture keeps
the data's handedness. Every panel has the same axis limits, a cube around all motions, and a floor
at their lowest point. Figures are built with :class:`matplotlib.figure.Figure` on an Agg canvas,
never through pyplot, so rendering does not change the process's matplotlib backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.animation import PillowWriter
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from mpl_toolkits.mplot3d.art3d import Line3DCollection, Poly3DCollection

GIF_PANEL_INCHES = 2.5
"""Width and height of one motion's panel in a GIF."""
GIF_DPI = 80
"""GIF resolution: a panel is 200 pixels square."""
PNG_PANEL_INCHES = 1.5
"""Width and height of one frame's panel in a PNG strip."""
PNG_DPI = 120
"""PNG resolution: a panel is 180 pixels square."""
TITLE_CHARS = 80
"""Longest title line drawn; a longer one is cut with an ellipsis (laying out a long title each frame takes minutes)."""


def render_gif(
    path: str | Path,
    motions: Sequence[np.ndarray],
    *,
    parents: Sequence[int],
    titles: Sequence[str],
    fps: int = 20,
    up_axis: int = 1,
) -> Path:
    """Animate ``motions`` (each (F, J, 3)) side by side as a GIF at ``fps``; shorter motions hold their last frame."""
    path = _output_path(path, ".gif")
    if fps < 1:
        raise ValueError(f"expected fps >= 1, found {fps}")
    points = _checked(motions, parents, titles, up_axis)
    frames = max(p.shape[0] for p in points)
    fig = _figure(1, len(points), GIF_PANEL_INCHES, GIF_DPI, title_inches=0.2)
    low, high = _limits(points)
    bones = _bones(parents)
    collections = []
    for column, (motion, title) in enumerate(zip(points, titles)):
        ax = _panel(fig, 1, len(points), column, low, high, title)
        collections.append(_skeleton(ax, motion[0], bones, color=f"C{column}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = PillowWriter(fps=fps)
    with writer.saving(fig, str(path), GIF_DPI):
        for frame in range(frames):
            for motion, collection in zip(points, collections):
                collection.set_segments(_segments(motion[min(frame, motion.shape[0] - 1)], bones))
            writer.grab_frame()
    return path


def render_frames_png(
    path: str | Path,
    motions: Sequence[np.ndarray],
    *,
    parents: Sequence[int],
    titles: Sequence[str],
    frames: int = 4,
    up_axis: int = 1,
) -> Path:
    """Draw ``frames`` evenly spaced frames of each motion (each (F, J, 3)) as one row of a PNG, one row per motion."""
    path = _output_path(path, ".png")
    if frames < 1:
        raise ValueError(f"expected frames >= 1, found {frames}")
    points = _checked(motions, parents, titles, up_axis)
    fig = _figure(len(points), frames, PNG_PANEL_INCHES, PNG_DPI, title_inches=0.3)
    low, high = _limits(points)
    bones = _bones(parents)
    for row, (motion, title) in enumerate(zip(points, titles)):
        picks = np.round(np.linspace(0, motion.shape[0] - 1, frames)).astype(int)  # (frames,)
        for column, frame in enumerate(picks):
            label = f"{title}\nframe {frame}" if column == 0 else f"frame {frame}"
            ax = _panel(fig, len(points), frames, row * frames + column, low, high, label)
            _skeleton(ax, motion[frame], bones, color=f"C{row}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=PNG_DPI)
    return path


def _output_path(path: str | Path, suffix: str) -> Path:
    """``path`` as a Path, checked to end in ``suffix``."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise ValueError(f"expected an output path ending in {suffix}, found {str(path)!r}")
    return path


def _checked(
    motions: Sequence[np.ndarray], parents: Sequence[int], titles: Sequence[str], up_axis: int
) -> list[np.ndarray]:
    """The motions as float arrays (F, J, 3) in plot coordinates (vertical last), after checking every input."""
    if up_axis not in (0, 1, 2):
        raise ValueError(f"expected up_axis 0, 1 or 2, found {up_axis}")
    if len(motions) == 0:
        raise ValueError("expected at least one motion, found none")
    if len(titles) != len(motions):
        raise ValueError(f"expected one title per motion ({len(motions)}), found {len(titles)} titles")
    order = [(up_axis + 1) % 3, (up_axis + 2) % 3, up_axis]
    points = []
    for index, motion in enumerate(motions):
        array = np.asarray(motion, dtype=np.float64)
        if array.ndim != 3 or array.shape[2] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
            raise ValueError(f"expected motion {index} of shape (frames, joints, 3), found shape {array.shape}")
        if array.shape[1] != len(parents):
            raise ValueError(
                f"expected parents to have one entry per joint ({array.shape[1]} in motion {index}), found "
                f"{len(parents)}"
            )
        if not np.isfinite(array).all():
            raise ValueError(f"expected finite joint positions, found NaN or infinity in motion {index}")
        points.append(array[..., order])  # (F, J, 3)
    _check_parents(parents)
    return points


def _check_parents(parents: Sequence[int]) -> None:
    """Raise ``ValueError`` unless ``parents`` is a forest: indices in [-1, J), and every joint reaches a root."""
    joints = len(parents)
    for joint, parent in enumerate(parents):
        if not -1 <= parent < joints or parent == joint:
            raise ValueError(
                f"expected parents[{joint}] to be -1 or another joint index below {joints}, found {parent}"
            )
    for joint in range(joints):
        current, steps = joint, 0
        while parents[current] != -1:
            current, steps = parents[current], steps + 1
            if steps > joints:
                raise ValueError(f"expected parents without cycles, found a cycle above joint {joint}")


def _bones(parents: Sequence[int]) -> np.ndarray:
    """(child, parent) index pairs (B, 2) of every non-root joint."""
    return np.array([(joint, parent) for joint, parent in enumerate(parents) if parent >= 0], dtype=int).reshape(-1, 2)


def _segments(pose: np.ndarray, bones: np.ndarray) -> np.ndarray:
    """Bone segments (B, 2, 3) of one pose (J, 3)."""
    return np.stack([pose[bones[:, 0]], pose[bones[:, 1]]], axis=1)  # (B, 2, 3)


def _limits(points: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper corners (3,) of a cube holding every motion, its bottom on the lowest point."""
    stacked = np.concatenate([p.reshape(-1, 3) for p in points])  # (F * J * motions, 3)
    low, high = stacked.min(axis=0), stacked.max(axis=0)  # (3,)
    half = max(float((high - low).max()) / 2.0, 0.5)
    centre = (low + high) / 2.0  # (3,)
    corner_low = np.array([centre[0] - half, centre[1] - half, low[2]])  # (3,)
    return corner_low, corner_low + np.array([2 * half, 2 * half, 2 * half])


def _figure(rows: int, columns: int, inches: float, dpi: int, *, title_inches: float) -> Figure:
    """A white figure of ``rows`` x ``columns`` panels of ``inches`` square, each with ``title_inches`` on top for its
    title."""
    fig = Figure(figsize=(inches * columns, inches * rows), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    fig.subplots_adjust(
        left=0.0,
        right=1.0,
        bottom=0.0,
        top=1.0 - title_inches / (inches * rows),
        wspace=0.0,
        hspace=title_inches / (inches - title_inches),
    )
    return fig


def _panel(fig: Figure, rows: int, columns: int, index: int, low: np.ndarray, high: np.ndarray, title: str) -> Axes:
    """The 3D subplot at ``index`` with the shared limits, a floor at ``low``'s height and ``title``."""
    ax = fig.add_subplot(rows, columns, index + 1, projection="3d", computed_zorder=False)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_zlim(low[2], high[2])
    ax.set_box_aspect((1.0, 1.0, 1.0))
    ax.view_init(elev=15.0, azim=-60.0)
    ax.set_axis_off()
    floor = [
        [(low[0], low[1], low[2]), (high[0], low[1], low[2]), (high[0], high[1], low[2]), (low[0], high[1], low[2])]
    ]
    ax.add_collection3d(Poly3DCollection(floor, facecolor="0.85", edgecolor="0.6", alpha=0.6, zorder=0))
    ax.set_title(short_title(title), fontsize=7)
    return ax


def short_title(title: str) -> str:
    """``title`` with each line cut to :data:`TITLE_CHARS` characters, the last of a cut line an ellipsis."""
    return "\n".join(
        line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "\u2026" for line in title.split("\n")
    )


def _skeleton(ax: Axes, pose: np.ndarray, bones: np.ndarray, *, color: str) -> Line3DCollection:
    """Draw one pose (J, 3) as bones on ``ax``; returns the collection to update."""
    collection = Line3DCollection(_segments(pose, bones), colors=color, linewidths=1.5, zorder=2)
    ax.add_collection3d(collection)
    return collection
