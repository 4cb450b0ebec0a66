"""Scenes and helpers for the simulator tests (small where a test allows it: fewer
bodies step faster)."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from robo_os_memory.models import Pose

from robo_os.fleet import FleetConfig, RobotConfig, load_fleet

WAIT_S = 60.0


def household() -> FleetConfig:
    return load_fleet()


def corridor() -> FleetConfig:
    """Two tables with a long wall between them: a base must drive around it."""
    return FleetConfig.model_validate(
        {
            "scene": {
                "size": [8.0, 8.0],
                "places": [
                    {
                        "name": "west",
                        "kind": "table",
                        "pose": {"x": -2.5, "y": 0.0},
                        "size": [0.8, 0.8, 0.75],
                    },
                    {
                        "name": "east",
                        "kind": "table",
                        "pose": {"x": 2.5, "y": 0.0},
                        "size": [0.8, 0.8, 0.75],
                    },
                    {
                        "name": "wall",
                        "kind": "counter",
                        "pose": {"x": 0.0, "y": 0.0},
                        "size": [0.3, 4.0, 0.9],
                    },
                ],
                "objects": [],
            },
            "robots": [{"id": "carrier1", "embodiment": "carrier", "at": "west"}],
        }
    )


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, raw scanlines) of an 8-bit RGB PNG, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + payload
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    return width, height, zlib.decompress(chunks[b"IDAT"])


class ImportedDriver:
    """A driver a fleet file names as `sim_scenes:ImportedDriver`."""

    def __init__(self, config: RobotConfig) -> None:
        self._config = config

    @property
    def id(self) -> str:
        return self._config.id

    @property
    def embodiment(self) -> str:
        return self._config.embodiment

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"navigate"})

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def pose(self) -> Pose:
        return Pose(x=0.0, y=0.0)


class NotADriver:
    def __init__(self, config: Any) -> None:
        self.config = config
