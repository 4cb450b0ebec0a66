"""Small PNG helpers: a one-colour image (what a fake camera returns) and a decoder that
checks every chunk's CRC (to assert that a camera really produced a valid PNG)."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from ..sim.png import encode_png

__all__ = ["decode_png", "tiny_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid RGB PNG of one colour."""
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:, :] = rgb
    return encode_png(pixels)


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw filtered scanlines) of an 8-bit RGB PNG; AssertionError on a
    bad file (signature, any chunk's CRC, another pixel format)."""
    assert data[:8] == _SIGNATURE, "not a PNG"
    pos, chunks = 8, dict[bytes, bytes]()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF, f"bad CRC in {kind!r}"
        chunks[kind] = chunks.get(kind, b"") + payload
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2), f"not 8-bit RGB: depth {depth}, colour type {colour}"
    return width, height, zlib.decompress(chunks[b"IDAT"])
