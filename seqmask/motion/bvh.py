"""BVH motion capture files: a strict reader and a writer whose output the reader reads back to printed precision.

A BVH file is a ``HIERARCHY`` (joints, each with an ``OFFSET`` from its parent, its ``CHANNELS`` and its child
joints or an ``End Site``) followed by a ``MOTION`` section (``Frames:``, ``Frame Time:``, then one row of channel
values a frame, in the order the hierarchy lists the channels). :func:`read_bvh` rejects anything it cannot read
whole with a :class:`BvhError` that names the file, the line and what was expected and found.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
CHANNEL_NAMES = POSITION_CHANNELS + ROTATION_CHANNELS
VALUE_FORMAT = "%.6f"
"""How :func:`write_bvh` prints offsets and channel values (file units and degrees)."""


class BvhError(ValueError):
    """A BVH file that cannot be read; the message names the file, the line where known, and the problem."""


@dataclass(frozen=True, eq=False)
class Skeleton:
    """The joint tree of a BVH hierarchy, joints in file order (parents before children).

    ``offsets`` ``(J, 3)`` are in file units; ``channels[j]`` are joint ``j``'s channel names in file order (empty for
    a joint without channels); ``end_sites[j]`` is the ``(3,)`` offset of its ``End Site`` or None. Arrays are made
    read-only; equality is identity (arrays have no single truth value).
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    end_sites: tuple[np.ndarray | None, ...]

    def __post_init__(self) -> None:
        offsets = np.array(self.offsets, dtype=np.float64)  # (J, 3)
        joints = len(self.names)
        if offsets.shape != (joints, 3):
            raise ValueError(f"skeleton offsets: expected shape ({joints}, 3) for {joints} joints, found {offsets.shape}")
        for field in ("parents", "channels", "end_sites"):
            if len(getattr(self, field)) != joints:
                raise ValueError(f"skeleton {field}: expected one entry for each of {joints} joints, found {len(getattr(self, field))}")
        if len(set(self.names)) != joints:
            raise ValueError(f"skeleton joint names: expected unique names, found duplicates in {self.names}")
        for j, parent in enumerate(self.parents):
            if not (parent == -1 or 0 <= parent < j):
                raise ValueError(f"skeleton joint {self.names[j]!r}: expected parent -1 or an earlier joint (< {j}), found {parent}")
            unknown = [name for name in self.channels[j] if name not in CHANNEL_NAMES]
            if unknown or len(set(self.channels[j])) != len(self.channels[j]):
                raise ValueError(f"skeleton joint {self.names[j]!r}: expected distinct channels from {CHANNEL_NAMES}, "
                                 f"found {self.channels[j]}")
        end_sites = []
        for j, site in enumerate(self.end_sites):
            if site is not None:
                site = np.array(site, dtype=np.float64)  # (3,)
                if site.shape != (3,):
                    raise ValueError(f"skeleton joint {self.names[j]!r}: expected an End Site offset of shape (3,), found {site.shape}")
                site.setflags(write=False)
            end_sites.append(site)
        offsets.setflags(write=False)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "end_sites", tuple(end_sites))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        object.__setattr__(self, "channels", tuple(tuple(c) for c in self.channels))

    @property
    def channel_count(self) -> int:
        """How many values one frame holds: all joints' channels together."""
        return sum(len(c) for c in self.channels)

    def children(self, j: int) -> tuple[int, ...]:
        """Indices of joint ``j``'s child joints, in file order."""
        return tuple(k for k, parent in enumerate(self.parents) if parent == j)

    def channel_slice(self, j: int) -> slice:
        """Where joint ``j``'s channels lie in a frame row."""
        start = sum(len(c) for c in self.channels[:j])
        return slice(start, start + len(self.channels[j]))

    def index(self, name: str) -> int:
        """The index of the joint called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"skeleton has no joint {name!r}; joints are {self.names}") from None


@dataclass(frozen=True, eq=False)
class Motion:
    """A skeleton and its channel values: ``values`` ``(F, C)`` float64, one row a frame, ``frame_time`` in seconds."""

    skeleton: Skeleton
    frame_time: float
    values: np.ndarray

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)  # (F, C)
        channels = self.skeleton.channel_count
        if values.ndim != 2 or values.shape[1] != channels or values.shape[0] < 1:
            raise ValueError(f"motion values: expected shape (F >= 1, {channels}) for the skeleton's channels, found {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError(f"motion values: expected finite numbers, found {int((~np.isfinite(values)).sum())} NaN or infinite")
        if not (np.isfinite(self.frame_time) and self.frame_time > 0):
            raise ValueError(f"motion frame time: expected a positive number of seconds, found {self.frame_time}")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "frame_time", float(self.frame_time))

    @property
    def frame_count(self) -> int:
        """How many frames the motion has."""
        return self.values.shape[0]

    @property
    def fps(self) -> float:
        """Frames per second (``1 / frame_time``)."""
        return 1.0 / self.frame_time


class _Tokens:
    """The whitespace-separated tokens of the hierarchy lines, each with its line number."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.items = [(token, number) for number, line in enumerate(lines, start=1) for token in line.split()]
        self.pos = 0
        self.last_line = len(lines)

    def error(self, message: str, line: int | None = None) -> BvhError:
        line = self.line if line is None else line
        return BvhError(f"{self.path}:{line}: {message}")

    @property
    def line(self) -> int:
        return self.items[self.pos][1] if self.pos < len(self.items) else self.last_line

    def peek(self) -> str | None:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def take(self, what: str) -> str:
        token = self.peek()
        if token is None:
            raise self.error(f"expected {what}, found the end of the hierarchy (no more tokens before MOTION)")
        self.pos += 1
        return token

    def expect(self, keyword: str, context: str) -> None:
        line = self.line
        token = self.take(f"{keyword!r} {context}")
        if token != keyword:
            raise self.error(f"expected {keyword!r} {context}, found {token!r}", line)

    def numbers(self, count: int, context: str) -> list[float]:
        values = []
        for _ in range(count):
            line = self.line
            token = self.take(f"{count} numbers {context}")
            try:
                value = float(token)
            except ValueError:
                raise self.error(f"expected {count} numbers {context}, found {token!r}", line) from None
            if not np.isfinite(value):
                raise self.error(f"expected finite numbers {context}, found {token!r}", line)
            values.append(value)
        return values

    def rest_of_line(self, line: int) -> list[str]:
        tokens = []
        while self.pos < len(self.items) and self.items[self.pos][1] == line:
            tokens.append(self.items[self.pos][0])
            self.pos += 1
        return tokens


class _HierarchyParser:
    """Recursive descent over the hierarchy tokens, filling the skeleton's per-joint lists."""

    def __init__(self, tokens: _Tokens) -> None:
        self.tokens = tokens
        self.names: list[str] = []
        self.parents: list[int] = []
        self.offsets: list[list[float]] = []
        self.channels: list[tuple[str, ...]] = []
        self.end_sites: list[np.ndarray | None] = []

    def parse(self) -> Skeleton:
        tokens = self.tokens
        tokens.expect("HIERARCHY", "at the start of the file")
        tokens.expect("ROOT", "after HIERARCHY")
        self.joint(-1)
        if tokens.peek() is not None:
            raise tokens.error(f"expected MOTION after the root joint's closing '}}', found {tokens.peek()!r} (unbalanced braces?)")
        return Skeleton(tuple(self.names), tuple(self.parents), np.array(self.offsets), tuple(self.channels), tuple(self.end_sites))

    def joint(self, parent: int) -> None:
        tokens = self.tokens
        opened = tokens.line
        name = tokens.take("a joint name")
        if name in self.names:
            raise tokens.error(f"expected a new joint name, found {name!r} a second time", opened)
        j = len(self.names)
        self.names.append(name)
        self.parents.append(parent)
        self.end_sites.append(None)
        tokens.expect("{", f"after joint {name!r}")
        tokens.expect("OFFSET", f"first in joint {name!r}")
        self.offsets.append(tokens.numbers(3, f"after OFFSET of joint {name!r}"))
        self.channels.append(self.channel_list(name) if tokens.peek() == "CHANNELS" else ())
        while True:
            line = tokens.line
            token = tokens.take(f"JOINT, End Site or '}}' closing joint {name!r} (opened at line {opened}; unbalanced braces?)")
            if token == "}":
                return
            if token == "JOINT":
                self.joint(j)
            elif token == "End":
                self.end_site(j)
            else:
                raise tokens.error(f"expected JOINT, End Site or '}}' in joint {name!r}, found {token!r}", line)

    def channel_list(self, name: str) -> tuple[str, ...]:
        tokens = self.tokens
        line = tokens.line
        tokens.take("CHANNELS")
        declared = tokens.take(f"a channel count after CHANNELS of joint {name!r}")
        if not declared.isdigit():
            raise tokens.error(f"expected a channel count after CHANNELS of joint {name!r}, found {declared!r}", line)
        listed = tokens.rest_of_line(line)
        if len(listed) != int(declared):
            raise tokens.error(f"CHANNELS of joint {name!r} declares {declared} channels, lists {len(listed)}: {listed}", line)
        for channel in listed:
            if channel not in CHANNEL_NAMES:
                raise tokens.error(f"unknown channel {channel!r} in joint {name!r}; expected one of {CHANNEL_NAMES}", line)
        if len(set(listed)) != len(listed):
            raise tokens.error(f"joint {name!r} lists a channel twice: {listed}", line)
        return tuple(listed)

    def end_site(self, j: int) -> None:
        tokens = self.tokens
        name = self.names[j]
        tokens.expect("Site", f"after 'End' in joint {name!r}")
        if self.end_sites[j] is not None:
            raise tokens.error(f"joint {name!r} has a second End Site; expected at most one")
        tokens.expect("{", f"after End Site of joint {name!r}")
        tokens.expect("OFFSET", f"first in the End Site of joint {name!r}")
        self.end_sites[j] = np.array(tokens.numbers(3, f"after OFFSET of the End Site of joint {name!r}"))
        tokens.expect("}", f"closing the End Site of joint {name!r}")


def _numbered(lines: list[str], start: int) -> Iterator[tuple[int, list[str]]]:
    """The non-blank lines from index ``start``, split, with their 1-based line numbers."""
    for index in range(start, len(lines)):
        fields = lines[index].split()
        if fields:
            yield index + 1, fields


def _header_value(path: Path, entry: tuple[int, list[str]] | None, label: list[str]) -> tuple[int, str]:
    """The value of a ``label value`` header line (``Frames: 128``), or a BvhError saying what was found."""
    expected = " ".join(label)
    if entry is None:
        raise BvhError(f"{path}: expected a {expected!r} line in the MOTION section, found the end of the file")
    number, fields = entry
    if fields[: len(label)] != label or len(fields) != len(label) + 1:
        raise BvhError(f"{path}:{number}: expected '{expected} <value>', found {' '.join(fields)!r}")
    return number, fields[-1]


def read_bvh(path: str | Path) -> Motion:
    """Read a BVH file (gzip-compressed when its name ends in ``.gz``) whole; anything malformed raises :class:`BvhError`."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        lines = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8").splitlines()
    except (OSError, EOFError) as err:
        raise BvhError(f"{path}: expected gzip-compressed BVH text (the name ends in .gz), found {err}") from None
    except UnicodeDecodeError as err:
        raise BvhError(f"{path}: expected UTF-8 text, found byte 0x{err.object[err.start]:02x} at offset {err.start}") from None
    motion_at = next((i for i, line in enumerate(lines) if line.split()[:1] == ["MOTION"]), None)
    if motion_at is None:
        raise BvhError(f"{path}: expected a MOTION section after the HIERARCHY, found none in {len(lines)} lines")
    skeleton = _HierarchyParser(_Tokens(path, lines[:motion_at])).parse()
    channels = skeleton.channel_count
    if channels == 0:
        raise BvhError(f"{path}: expected channels in the hierarchy, found no joint with CHANNELS")

    rows = _numbered(lines, motion_at + 1)
    number, declared = _header_value(path, next(rows, None), ["Frames:"])
    if not declared.isdigit():
        raise BvhError(f"{path}:{number}: expected a whole number of frames after 'Frames:', found {declared!r}")
    frames = int(declared)
    if frames == 0:
        raise BvhError(f"{path}:{number}: declares 0 frames; expected at least one")
    number, declared = _header_value(path, next(rows, None), ["Frame", "Time:"])
    try:
        frame_time = float(declared)
    except ValueError:
        raise BvhError(f"{path}:{number}: expected a number of seconds after 'Frame Time:', found {declared!r}") from None
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise BvhError(f"{path}:{number}: expected a positive frame time, found {declared}")

    numbers, flat = [], []
    for number, fields in rows:
        if len(fields) != channels:
            raise BvhError(f"{path}:{number}: frame row {len(numbers) + 1} has {len(fields)} values, expected {channels} (one per channel)")
        numbers.append(number)
        flat.extend(fields)
    if len(numbers) != frames:
        raise BvhError(f"{path}: 'Frames:' declares {frames} frames, found {len(numbers)} frame rows")
    try:
        values = np.array(flat, dtype=np.float64).reshape(frames, channels)  # (F, C)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        raise _bad_value(path, skeleton, numbers, flat)
    return Motion(skeleton, frame_time, values)


def _is_finite_number(token: str) -> bool:
    try:
        return bool(np.isfinite(float(token)))
    except ValueError:
        return False


def _bad_value(path: Path, skeleton: Skeleton, numbers: list[int], flat: list[str]) -> BvhError:
    """The error for the first value that is not a finite number, naming its line, joint and channel."""
    labels = [f"{name}.{channel}" for name, joint_channels in zip(skeleton.names, skeleton.channels) for channel in joint_channels]
    k = next(k for k, token in enumerate(flat) if not _is_finite_number(token))
    row, column = divmod(k, len(labels))
    return BvhError(f"{path}:{numbers[row]}: value {column + 1} ({labels[column]}): expected a finite number, found {flat[k]!r}")


def _hierarchy_lines(skeleton: Skeleton, j: int, depth: int) -> Iterator[str]:
    indent = "\t" * depth
    yield f"{indent}{'ROOT' if skeleton.parents[j] == -1 else 'JOINT'} {skeleton.names[j]}"
    yield f"{indent}{{"
    yield f"{indent}\tOFFSET {' '.join(VALUE_FORMAT % v for v in skeleton.offsets[j])}"
    if skeleton.channels[j]:
        yield f"{indent}\tCHANNELS {len(skeleton.channels[j])} {' '.join(skeleton.channels[j])}"
    for child in skeleton.children(j):
        yield from _hierarchy_lines(skeleton, child, depth + 1)
    site = skeleton.end_sites[j]
    if site is not None:
        yield f"{indent}\tEnd Site"
        yield f"{indent}\t{{"
        yield f"{indent}\t\tOFFSET {' '.join(VALUE_FORMAT % v for v in site)}"
        yield f"{indent}\t}}"
    yield f"{indent}}}"


def write_bvh(path: str | Path, motion: Motion) -> None:
    """Write ``motion`` as BVH (gzipped for a ``.gz`` name, values as :data:`VALUE_FORMAT`) that :func:`read_bvh` reads back."""
    skeleton = motion.skeleton
    roots = [j for j, parent in enumerate(skeleton.parents) if parent == -1]
    if len(roots) != 1:
        raise ValueError(f"{path}: expected a skeleton with one root joint to write, found {len(roots)}")
    hierarchy = list(_hierarchy_lines(skeleton, roots[0], 0))
    written = [line.split()[1] for line in hierarchy if line.split()[0] in ("ROOT", "JOINT")]
    if written != list(skeleton.names):
        raise ValueError(f"{path}: expected joints in depth-first file order (the order of the values), found {skeleton.names}")
    lines = ["HIERARCHY", *hierarchy]
    lines += ["MOTION", f"Frames: {motion.frame_count}", f"Frame Time: {motion.frame_time:.10g}"]
    row_format = " ".join([VALUE_FORMAT] * skeleton.channel_count)
    lines += [row_format % tuple(row) for row in motion.values.tolist()]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    Path(path).write_bytes(gzip.compress(data, mtime=0) if Path(path).suffix == ".gz" else data)
