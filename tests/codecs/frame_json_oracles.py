"""Import and drive the Scale oracles for the frame JSON tests (scale-lidar-io, its debug reader).

scale-lidar-io 1.2.5 imports open3d (which needs libusb), laspy 1.x's ``laspy.file`` and protobuf
at import time. The code paths used here (``Transform``, ``LidarScene``, ``LidarFrame.to_json``,
``DebugLidarScene.load_task_attachments``) never touch them, so a module that fails to import is
replaced by an empty stand-in for the duration of the import only.
"""

from __future__ import annotations

import importlib
import json
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

_STANDINS: dict[str, dict[str, object]] = {"open3d": {}, "laspy.file": {"File": object}}


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def import_oracles() -> tuple[types.ModuleType, types.ModuleType]:
    """Return ``(scale_lidar_io, scale_lidar_io_debug.scene)``, the real packages."""
    if "scale_lidar_io_debug.scene" in sys.modules:
        return sys.modules["scale_lidar_io"], sys.modules["scale_lidar_io_debug.scene"]
    added: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, attrs in _STANDINS.items():
            if not _importable(name):
                module = types.ModuleType(name)
                module.__dict__.update(attrs)
                sys.modules[name] = module
                added.append(name)
        if not _importable("google.protobuf.json_format"):
            helper = types.ModuleType("scale_lidar_io.protobuf_helper")
            helper.__dict__["create_scene_from_protobufs"] = None  # protobuf input is not used
            sys.modules["scale_lidar_io.protobuf_helper"] = helper
        lidar_io = importlib.import_module("scale_lidar_io")
        debug_scene = importlib.import_module("scale_lidar_io_debug.scene")
    for name in added:
        del sys.modules[name]
    return lidar_io, debug_scene


def numpy1_shim(monkeypatch: pytest.MonkeyPatch) -> None:
    """scale-lidar-io's ``Transform.from_Rt`` calls ``np.mat``, removed in NumPy 2; alias it."""
    if "mat" not in np.__dict__:
        monkeypatch.setattr(np, "mat", np.asmatrix, raising=False)


class _Response:
    status_code = 200

    def __init__(self, body: bytes) -> None:
        self._body = body

    def json(self) -> Any:
        return json.loads(self._body)

    def __iter__(self) -> Any:
        return iter([self._body])


def debug_read(
    frames: list[bytes],
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    images: dict[str, bytes] | None = None,
) -> tuple[Any, list[npt.NDArray[np.float32]]]:
    """Feed our frame files to the debug reader as task attachments (loopback stand-ins only).

    Returns the reader's ``DebugLidarScene`` and, per frame, the exact ``(N, 4)`` float32 array it
    decoded from ``points`` + ``intensities`` (its own cache file).
    """
    _, scene_mod = import_oracles()
    numpy1_shim(monkeypatch)
    urls = [f"https://attachments.invalid/frame-{i}.json" for i in range(len(frames))]
    bodies = dict(zip(urls, frames, strict=True)) | (images or {})
    monkeypatch.setattr(scene_mod, "get_signed_url", lambda url: url)
    monkeypatch.setattr(
        scene_mod, "requests", types.SimpleNamespace(get=lambda url, **_: _Response(bodies[url]))
    )
    monkeypatch.chdir(workdir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scene = scene_mod.DebugLidarScene()
        for i in range(len(frames)):
            # LidarFrame starts with (0, 5) points, but add_points of (N, 4) rows makes 6 columns;
            # the reader then fails in vstack. Start each frame with (0, 6), as add_points expects.
            scene.get_frame(i).points = np.zeros((0, 6))
        scene.load_task_attachments("task", urls, images is not None)
    cached = [np.load(workdir / ".cache" / "task" / f"frame-{i}.npy") for i in range(len(frames))]
    return scene, cached
