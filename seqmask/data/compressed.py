"""Text files read as a stream of bytes, inflated when compressed (by the name's suffix), with a cap on their size.

Every reader of user files goes through :func:`open_capped`, so a small compressed file
that inflates to gigabytes (a decompression bomb) stops at the cap with
:class:`TooLarge` instead of filling memory, and a file whose bytes are not the
compression its name says is a :class:`NotCompressedAsNamed` naming it.
"""

from __future__ import annotations

import gzip
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class Compression:
    """How files of one suffix are stored: a name for messages, how to open them, and the stream's errors that mean the
    bytes are not that compression."""

    name: str
    open: Callable[[Path], BinaryIO]
    errors: tuple[type[Exception], ...]


PLAIN = Compression("plain", lambda path: open(path, "rb"), ())
COMPRESSIONS = {
    ".gz": Compression("gzip-compressed", gzip.open, (gzip.BadGzipFile, EOFError, zlib.error)),
    ".xz": Compression("xz-compressed", lzma.open, (lzma.LZMAError, EOFError)),
}
"""Compressions by the file name's last suffix; anything else is read as it is."""
MAX_TEXT_BYTES = 1 << 30
"""The default cap on a text file's (inflated) size."""


def compression_of(path: Path) -> Compression:
    return COMPRESSIONS.get(Path(path).suffix, PLAIN)


class TooLarge(ValueError):
    """A file whose (inflated) bytes pass the reader's cap."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path, self.cap = Path(path), cap
        super().__init__(f"{path}: expected at most {cap} bytes of text (the size cap), found more")


class NotCompressedAsNamed(ValueError):
    """A file whose bytes are not the compression its name says."""


class CappedLines:
    """The (inflated) bytes of a file, line by line: ``readline`` never reads past ``cap`` bytes (one byte past it
    raises :class:`TooLarge`), so a line read just before the cap is whole and the one that crosses it is the one
    named."""

    def __init__(self, path: Path, cap: int) -> None:
        self.path, self.cap, self.read = Path(path), cap, 0
        """Bytes read so far."""
        self._compression = compression_of(self.path)
        self._file = self._compression.open(self.path)

    def readline(self, limit: int = -1) -> bytes:
        """The next line with its ``\\n`` (b"" at the end), at most ``limit`` bytes of it when ``limit`` >= 0."""
        most = self.cap - self.read + 1 if limit < 0 else min(limit, self.cap - self.read + 1)
        try:
            line = self._file.readline(most)
        except self._compression.errors as err:
            raise NotCompressedAsNamed(
                f"{self.path}: expected {self._compression.name} text (the name ends in {self.path.suffix}), found a "
                f"stream that cannot be read as such ({err})"
            ) from None
        self.read += len(line)
        if self.read > self.cap:
            raise TooLarge(self.path, self.cap)
        return line

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> CappedLines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capped(path: Path, cap: int) -> CappedLines:
    """``path``'s bytes, inflated when its suffix names a compression, read line by line; past ``cap`` bytes reading
    raises :class:`TooLarge`."""
    return CappedLines(Path(path), cap)
