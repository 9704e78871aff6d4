"""BVH motion capture files: a strict reader and a writer whose output the reader reads back to printed precision.

A BVH file is a ``HIERARCHY`` (joints, each with an ``OFFSET`` from its parent, its ``CHANNELS`` and its child
joints or an ``End Site``) followed by a ``MOTION`` section (``Frames:``, ``Frame Time:``, then one row of channel
values a frame, in the order the hierarchy lists the channels). :func:`read_bvh` rejects anything it cannot read
whole with a :class:`BvhError` that names the file, the line and what was expected and found. It reads the file as a
stream, line by line, up to a cap on the text's size (:class:`BvhTooLarge` past it), so a small compressed file
cannot inflate into all of memory; the values go straight into one float64 array.
"""

from __future__ import annotations

import collections
import gzip
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqmask.data.compressed import CappedLines, NotCompressedAsNamed, TooLarge, open_capped
from seqmask.motion.config import MAX_BVH_BYTES

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")
CHANNEL_NAMES = POSITION_CHANNELS + ROTATION_CHANNELS
VALUE_FORMAT = "%.6f"
"""How :func:`write_bvh` prints offsets and channel values (file units and degrees)."""


class BvhError(ValueError):
    """A BVH file that cannot be read; the message names the file, the line where known, and the problem."""


class BvhTooLarge(BvhError):
    """A BVH file whose text is longer than the reader's size cap (a decompression bomb, or a cap set too low)."""


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
            raise ValueError(
                f"skeleton offsets: expected shape ({joints}, 3) for {joints} joints, found {offsets.shape}"
            )
        for field in ("parents", "channels", "end_sites"):
            if len(getattr(self, field)) != joints:
                raise ValueError(
                    f"skeleton {field}: expected one entry for each of {joints} joints, found "
                    f"{len(getattr(self, field))}"
                )
        index = {name: j for j, name in enumerate(self.names)}
        if len(index) != joints:
            repeated = sorted(name for name, count in collections.Counter(self.names).items() if count > 1)
            raise ValueError(f"skeleton joint names: expected unique names, found {repeated} more than once")
        for j, parent in enumerate(self.parents):
            if not (parent == -1 or 0 <= parent < j):
                raise ValueError(
                    f"skeleton joint {self.names[j]!r}: expected parent -1 or an earlier joint (< {j}), found {parent}"
                )
            unknown = [name for name in self.channels[j] if name not in CHANNEL_NAMES]
            if unknown or len(set(self.channels[j])) != len(self.channels[j]):
                raise ValueError(
                    f"skeleton joint {self.names[j]!r}: expected distinct channels from {CHANNEL_NAMES}, "
                    f"found {self.channels[j]}"
                )
        offsets.setflags(write=False)
        object.__setattr__(self, "offsets", offsets)
        object.__setattr__(self, "end_sites", tuple(self._end_site(j, site) for j, site in enumerate(self.end_sites)))
        object.__setattr__(self, "parents", tuple(int(p) for p in self.parents))
        object.__setattr__(self, "channels", tuple(tuple(c) for c in self.channels))
        self._tabulate(index)

    def _end_site(self, j: int, site: np.ndarray | None) -> np.ndarray | None:
        """Joint ``j``'s End Site offset as a read-only ``(3,)`` array (None stays None)."""
        if site is None:
            return None
        site = np.array(site, dtype=np.float64)  # (3,)
        if site.shape != (3,):
            raise ValueError(
                f"skeleton joint {self.names[j]!r}: expected an End Site offset of shape (3,), found {site.shape}"
            )
        site.setflags(write=False)
        return site

    def _tabulate(self, index: dict[str, int]) -> None:
        """Look-up tables built once, so that :meth:`index`, :meth:`children` and :meth:`channel_slice` take O(1)."""
        children: list[list[int]] = [[] for _ in self.names]
        for j, parent in enumerate(self.parents):
            if parent != -1:
                children[parent].append(j)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_children", tuple(tuple(c) for c in children))
        object.__setattr__(
            self, "_starts", tuple(itertools.accumulate((len(c) for c in self.channels), initial=0))
        )  # (J + 1,)

    @property
    def channel_count(self) -> int:
        """How many values one frame holds: all joints' channels together."""
        return self._starts[-1]

    def children(self, j: int) -> tuple[int, ...]:
        """Indices of joint ``j``'s child joints, in file order."""
        return self._children[j]

    def channel_slice(self, j: int) -> slice:
        """Where joint ``j``'s channels lie in a frame row."""
        return slice(self._starts[j], self._starts[j + 1])

    def index(self, name: str) -> int:
        """The index of the joint called ``name``."""
        try:
            return self._index[name]
        except KeyError:
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
            raise ValueError(
                f"motion values: expected shape (F >= 1, {channels}) for the skeleton's channels, found {values.shape}"
            )
        if not np.isfinite(values).all():
            raise ValueError(
                f"motion values: expected finite numbers, found {int((~np.isfinite(values)).sum())} NaN or infinite"
            )
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


def _lines(path: Path, stream: CappedLines, max_bytes: int) -> Iterator[tuple[int, str]]:
    """The decoded lines of ``stream`` (:func:`~seqmask.data.compressed.open_capped`) with their 1-based numbers;
    :class:`BvhTooLarge` once they pass ``max_bytes`` bytes."""
    read = 0
    for number in itertools.count(1):
        try:
            raw = stream.readline()
        except TooLarge:
            raise BvhTooLarge(
                f"{path}:{number}: expected at most {max_bytes} bytes of BVH text (the size cap), found more by this "
                "line"
            ) from None
        except NotCompressedAsNamed as err:
            raise BvhError(str(err)) from None
        if not raw:
            return
        read += len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise BvhError(
                f"{path}:{number}: expected UTF-8 text, found byte 0x{err.object[err.start]:02x} at offset "
                f"{read - len(raw) + err.start}"
            ) from None
        yield number, text


class _Tokens:
    """The whitespace-separated tokens of the hierarchy with their line numbers, read line by line up to ``MOTION``."""

    def __init__(self, path: Path, lines: Iterator[tuple[int, str]]) -> None:
        self.path = path
        self.lines = lines
        self.pending: list[str] = []
        """The tokens left on line ``last_line``, last first."""
        self.last_line = 0
        """The last line read before ``MOTION``."""
        self.motion_line: int | None = None
        """The line of ``MOTION``, once reached."""
        self.at_end = False

    def _fill(self) -> None:
        """Read on until a line has tokens, stopping at ``MOTION`` or the end of the file."""
        while not self.pending and self.motion_line is None and not self.at_end:
            entry = next(self.lines, None)
            if entry is None:
                self.at_end = True
                return
            number, text = entry
            fields = text.split()
            if fields[:1] == ["MOTION"]:
                self.motion_line = number
            else:
                self.last_line, self.pending = number, fields[::-1]

    def reaches_motion(self) -> bool:
        """Whether a ``MOTION`` line follows, skipping every token before it."""
        while self.motion_line is None and not self.at_end:
            self.pending = []
            self._fill()
        return self.motion_line is not None

    def error(self, message: str, line: int | None = None) -> BvhError:
        line = self.line if line is None else line
        return BvhError(f"{self.path}:{line}: {message}")

    @property
    def line(self) -> int:
        self._fill()
        return self.last_line

    def peek(self) -> str | None:
        self._fill()
        return self.pending[-1] if self.pending else None

    def take(self, what: str) -> str:
        token = self.peek()
        if token is None:
            end = (
                "the end of the hierarchy (no more tokens before MOTION)"
                if self.motion_line
                else "the end of the file (no MOTION section)"
            )
            raise self.error(f"expected {what}, found {end}")
        self.pending.pop()
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
        """The tokens left on ``line`` (none once the tokens have moved past it)."""
        if self.last_line != line:
            return []
        tokens, self.pending = self.pending[::-1], []
        return tokens


class _HierarchyParser:
    """The hierarchy tokens into the skeleton's per-joint lists. Open joints are kept on an explicit stack, so that the
    nesting depth is limited by memory only, not by Python's recursion limit."""

    def __init__(self, tokens: _Tokens) -> None:
        self.tokens = tokens
        self.names: list[str] = []
        self.seen: set[str] = set()
        self.parents: list[int] = []
        self.offsets: list[list[float]] = []
        self.channels: list[tuple[str, ...]] = []
        self.end_sites: list[np.ndarray | None] = []

    def parse(self) -> Skeleton:
        tokens = self.tokens
        tokens.expect("HIERARCHY", "at the start of the file")
        tokens.expect("ROOT", "after HIERARCHY")
        open_joints = [self.joint_head(-1)]  # (joint, the line it opened on), innermost last
        while open_joints:
            j, opened = open_joints[-1]
            name = self.names[j]
            line = tokens.line
            token = tokens.take(
                f"JOINT, End Site or '}}' closing joint {name!r} (opened at line {opened}; unbalanced braces?)"
            )
            if token == "}":
                open_joints.pop()
            elif token == "JOINT":
                open_joints.append(self.joint_head(j))
            elif token == "End":
                self.end_site(j)
            else:
                raise tokens.error(f"expected JOINT, End Site or '}}' in joint {name!r}, found {token!r}", line)
        self.check_end()
        return Skeleton(
            tuple(self.names), tuple(self.parents), np.array(self.offsets), tuple(self.channels), tuple(self.end_sites)
        )

    def check_end(self) -> None:
        """After the root joint's closing ``}``: ``MOTION`` next."""
        tokens = self.tokens
        line, token = tokens.line, tokens.peek()
        if token is not None and tokens.reaches_motion():
            raise tokens.error(
                f"expected MOTION after the root joint's closing '}}', found {token!r} (unbalanced braces?)", line
            )
        if tokens.motion_line is None:
            raise BvhError(
                f"{tokens.path}: expected a MOTION section after the HIERARCHY, found none in {tokens.last_line} lines"
            )

    def joint_head(self, parent: int) -> tuple[int, int]:
        """A joint's name, ``{``, ``OFFSET`` and ``CHANNELS`` into the lists: its index and the line it opened on."""
        tokens = self.tokens
        opened = tokens.line
        name = tokens.take("a joint name")
        if name in self.seen:
            raise tokens.error(f"expected a new joint name, found {name!r} a second time", opened)
        j = len(self.names)
        self.seen.add(name)
        self.names.append(name)
        self.parents.append(parent)
        self.end_sites.append(None)
        tokens.expect("{", f"after joint {name!r}")
        tokens.expect("OFFSET", f"first in joint {name!r}")
        self.offsets.append(tokens.numbers(3, f"after OFFSET of joint {name!r}"))
        self.channels.append(self.channel_list(name) if tokens.peek() == "CHANNELS" else ())
        return j, opened

    def channel_list(self, name: str) -> tuple[str, ...]:
        tokens = self.tokens
        line = tokens.line
        tokens.take("CHANNELS")
        declared = tokens.take(f"a channel count after CHANNELS of joint {name!r}")
        if not declared.isdigit():
            raise tokens.error(f"expected a channel count after CHANNELS of joint {name!r}, found {declared!r}", line)
        listed = tokens.rest_of_line(line)
        if len(listed) != int(declared):
            raise tokens.error(
                f"CHANNELS of joint {name!r} declares {declared} channels, lists {len(listed)}: {listed}", line
            )
        for channel in listed:
            if channel not in CHANNEL_NAMES:
                raise tokens.error(
                    f"unknown channel {channel!r} in joint {name!r}; expected one of {CHANNEL_NAMES}", line
                )
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


def _header_value(path: Path, entry: tuple[int, list[str]] | None, label: list[str]) -> tuple[int, str]:
    """The value of a ``label value`` header line (``Frames: 128``), or a BvhError saying what was found."""
    expected = " ".join(label)
    if entry is None:
        raise BvhError(f"{path}: expected a {expected!r} line in the MOTION section, found the end of the file")
    number, fields = entry
    if fields[: len(label)] != label or len(fields) != len(label) + 1:
        raise BvhError(f"{path}:{number}: expected '{expected} <value>', found {' '.join(fields)!r}")
    return number, fields[-1]


def read_bvh(path: str | Path, *, max_bytes: int = MAX_BVH_BYTES) -> Motion:
    """Read a BVH file line by line (compressed when its name ends in ``.gz`` or ``.xz``): more than ``max_bytes`` bytes
    of text raises :class:`BvhTooLarge`, anything malformed :class:`BvhError`."""
    path = Path(path)
    with open_capped(path, max_bytes) as stream:
        lines = _lines(path, stream, max_bytes)
        skeleton = _HierarchyParser(_Tokens(path, lines)).parse()
        if skeleton.channel_count == 0:
            raise BvhError(f"{path}: expected channels in the hierarchy, found no joint with CHANNELS")
        rows = ((number, fields) for number, text in lines if (fields := text.split()))
        number, frames, frame_time = _motion_header(path, rows)
        values = _frame_values(path, rows, skeleton, (number, frames), max_bytes)
    return Motion(skeleton, frame_time, values)


def _motion_header(path: Path, rows: Iterator[tuple[int, list[str]]]) -> tuple[int, int, float]:
    """``Frames:`` and ``Frame Time:``: the line of the frame count, the frame count and the frame time."""
    number, declared = _header_value(path, next(rows, None), ["Frames:"])
    if not declared.isdigit():
        raise BvhError(f"{path}:{number}: expected a whole number of frames after 'Frames:', found {declared!r}")
    frames = int(declared)
    if frames == 0:
        raise BvhError(f"{path}:{number}: declares 0 frames; expected at least one")
    time_line, declared = _header_value(path, next(rows, None), ["Frame", "Time:"])
    try:
        frame_time = float(declared)
    except ValueError:
        raise BvhError(
            f"{path}:{time_line}: expected a number of seconds after 'Frame Time:', found {declared!r}"
        ) from None
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise BvhError(f"{path}:{time_line}: expected a positive frame time, found {declared}")
    return number, frames, frame_time


def _frame_values(
    path: Path, rows: Iterator[tuple[int, list[str]]], skeleton: Skeleton, declared: tuple[int, int], max_bytes: int
) -> np.ndarray:
    """The frame rows, parsed one at a time into a ``(frames, C)`` array (no Python string is kept per value).

    ``declared`` is the ``Frames:`` line and count; a count whose rows could not fit in ``max_bytes`` is refused first.
    """
    number, frames = declared
    channels = skeleton.channel_count
    least = 2 * frames * channels - 1  # bytes: a digit and a space or newline per value, the last newline optional
    if least > max_bytes:
        raise BvhTooLarge(
            f"{path}:{number}: declares {frames} frames of {channels} values, at least {least} bytes of text; "
            f"expected at most {max_bytes} bytes (the size cap)"
        )
    values = np.empty((frames, channels))  # (F, C)
    found = 0
    for number, fields in rows:
        if len(fields) != channels:
            raise BvhError(
                f"{path}:{number}: frame row {found + 1} has {len(fields)} values, expected {channels} (one per "
                "channel)"
            )
        if found < frames:
            _parse_row(path, skeleton, number, fields, values[found])
        found += 1
    if found != frames:
        raise BvhError(f"{path}: 'Frames:' declares {frames} frames, found {found} frame rows")
    return values


def _parse_row(path: Path, skeleton: Skeleton, number: int, fields: list[str], row: np.ndarray) -> None:
    """The values of line ``number`` into ``row`` ``(C,)``, or the error for the first that is not a finite number."""
    try:
        row[:] = [float(token) for token in fields]
    except ValueError:
        raise _bad_value(path, skeleton, number, fields) from None
    if not np.isfinite(row).all():
        raise _bad_value(path, skeleton, number, fields)


def _is_finite_number(token: str) -> bool:
    try:
        return bool(np.isfinite(float(token)))
    except ValueError:
        return False


def _bad_value(path: Path, skeleton: Skeleton, number: int, fields: list[str]) -> BvhError:
    """The error for the first value of a frame row that is not a finite number, naming its line, joint and channel."""
    labels = [
        f"{name}.{channel}"
        for name, joint_channels in zip(skeleton.names, skeleton.channels)
        for channel in joint_channels
    ]
    column = next(k for k, token in enumerate(fields) if not _is_finite_number(token))
    return BvhError(
        f"{path}:{number}: value {column + 1} ({labels[column]}): expected a finite number, found {fields[column]!r}"
    )


def _hierarchy_lines(skeleton: Skeleton, root: int) -> Iterator[str]:
    """The hierarchy lines of ``root`` and every joint below it, depth first; an explicit stack rather than recursion,
    so that the depth is not limited by Python's recursion limit."""
    stack = [(root, 0, False)]  # (joint, depth, whether its children are written), the next to write last
    while stack:
        j, depth, closing = stack.pop()
        if closing:
            yield from _closing_lines(skeleton, j, "\t" * depth)
        else:
            yield from _opening_lines(skeleton, j, "\t" * depth)
            stack.append((j, depth, True))
            stack.extend((child, depth + 1, False) for child in reversed(skeleton.children(j)))


def _opening_lines(skeleton: Skeleton, j: int, indent: str) -> Iterator[str]:
    """Joint ``j``'s name, ``{``, ``OFFSET`` and ``CHANNELS`` lines."""
    yield f"{indent}{'ROOT' if skeleton.parents[j] == -1 else 'JOINT'} {skeleton.names[j]}"
    yield f"{indent}{{"
    yield f"{indent}\tOFFSET {' '.join(VALUE_FORMAT % v for v in skeleton.offsets[j])}"
    if skeleton.channels[j]:
        yield f"{indent}\tCHANNELS {len(skeleton.channels[j])} {' '.join(skeleton.channels[j])}"


def _closing_lines(skeleton: Skeleton, j: int, indent: str) -> Iterator[str]:
    """Joint ``j``'s ``End Site`` (if any) and closing ``}``, after its children."""
    site = skeleton.end_sites[j]
    if site is not None:
        yield f"{indent}\tEnd Site"
        yield f"{indent}\t{{"
        yield f"{indent}\t\tOFFSET {' '.join(VALUE_FORMAT % v for v in site)}"
        yield f"{indent}\t}}"
    yield f"{indent}}}"


def write_bvh(path: str | Path, motion: Motion) -> None:
    """Write ``motion`` as BVH (gzipped for a ``.gz`` name, values as :data:`VALUE_FORMAT`) that :func:`read_bvh` reads
    back."""
    skeleton = motion.skeleton
    roots = [j for j, parent in enumerate(skeleton.parents) if parent == -1]
    if len(roots) != 1:
        raise ValueError(f"{path}: expected a skeleton with one root joint to write, found {len(roots)}")
    hierarchy = list(_hierarchy_lines(skeleton, roots[0]))
    written = [line.split()[1] for line in hierarchy if line.split()[0] in ("ROOT", "JOINT")]
    if written != list(skeleton.names):
        raise ValueError(
            f"{path}: expected joints in depth-first file order (the order of the values), found {skeleton.names}"
        )
    lines = ["HIERARCHY", *hierarchy]
    lines += ["MOTION", f"Frames: {motion.frame_count}", f"Frame Time: {motion.frame_time:.10g}"]
    row_format = " ".join([VALUE_FORMAT] * skeleton.channel_count)
    lines += [row_format % tuple(row) for row in motion.values.tolist()]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    Path(path).write_bytes(gzip.compress(data, mtime=0) if Path(path).suffix == ".gz" else data)
