"""Pipeline fixtures: a clean environment, SeaweedFS, the Scale stand-in, and a counting converter.

``fake_convert`` replaces the converter with a small deterministic one (its output depends only on
the capture's bytes), so the engine's ordering, journal and idempotency can be tested before and
apart from the real readers; the end-to-end tests use the real converter.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.pipeline import run as run_module
from sfs_kit.pipeline import steps
from sfs_kit.storage import ObjectStore, S3Store

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["API_KEY", "Counts", "ScaleStandin"]


@pytest.fixture(autouse=True)
def _no_sfs_kit_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SFS_KIT_"):
            monkeypatch.delenv(name, raising=False)


@dataclass
class Counts:
    """What the run did: converter calls, S3 write requests by operation, per store built."""

    convert: int = 0
    s3: dict[str, int] = field(default_factory=dict)
    options: list[object] = field(default_factory=list)  # the ConvertOptions of each convert

    @property
    def puts(self) -> int:
        return self.s3.get("PutObject", 0) + self.s3.get("CreateMultipartUpload", 0)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counts:
    """Count S3 requests of every store the pipeline builds (botocore ``before-send`` hook)."""
    result = Counts()
    real_make_store = run_module._make_store

    def make_store(*args: object, **kwargs: object) -> ObjectStore:
        store = real_make_store(*args, **kwargs)  # type: ignore[arg-type]
        if isinstance(store, S3Store):
            def on_send(event_name: str, **_: object) -> None:
                name = event_name.rsplit(".", 1)[-1]
                result.s3[name] = result.s3.get(name, 0) + 1

            store.client.meta.events.register("before-send.s3", on_send)
        return store

    monkeypatch.setattr(run_module, "_make_store", make_store)
    return result


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, s3_server: SeaweedServer) -> SeaweedServer:
    """AWS credentials of the test server in the environment (as a user would set them)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_server.region)
    return s3_server


def make_fake_capture(root: Path, frames: int = 3) -> Path:
    """A tiny capture directory: one 'lidar' file and one 'image' per frame."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        (root / f"lidar-{i}.bin").write_bytes(bytes([i]) * (100 + i))
        (root / f"cam-{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes([i]) * 50)
    return root


def _fake_convert(counts: Counts) -> Callable[..., steps.Converted]:
    def convert(capture: Path, out_dir: Path, fmt: Literal["sfs", "split_base64"], *,
                options: object = None,
                on_progress: Callable[[int, int], None] | None = None,
                recording: object = None) -> steps.Converted:
        counts.convert += 1
        counts.options.append(options)
        sources = sorted(p for p in capture.iterdir() if p.is_file())
        if fmt == "sfs":
            digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
            target = out_dir / steps.SFS_NAME
            target.write_bytes(json.dumps({"fake": digest}).encode() + b"\x00" * 64)
            return steps.Converted([steps._entry(out_dir, target, "attachment")], [])
        stage = out_dir / steps.STAGE_DIR
        (stage / "frames").mkdir(parents=True, exist_ok=True)
        (stage / "images" / "cam").mkdir(parents=True, exist_ok=True)
        frames, images = [], []
        for i, lidar in enumerate(p for p in sources if p.suffix == ".bin"):
            image = stage / "images" / "cam" / f"{i:05d}.jpg"
            image.write_bytes((capture / f"cam-{i}.jpg").read_bytes())
            frame = stage / "frames" / f"frame-{i:05d}.json"
            frame.write_text(json.dumps(
                {"device_position": {"x": 0.1 * i, "y": 0.0, "z": 1.5},
                 "timestamp": 1_000_000 * i, "points": lidar.read_bytes().hex(),
                 "images": [{"image_url": f"../images/cam/{i:05d}.jpg", "fx": 500.5}]},
                separators=(",", ":")))
            frames.append(steps._entry(out_dir, frame, "attachment"))
            images.append(steps._entry(out_dir, image, "image"))
        return steps.Converted([*frames, *images], [])

    return convert


@pytest.fixture
def fake_convert(monkeypatch: pytest.MonkeyPatch, counts: Counts) -> Counts:
    """Use the small deterministic converter; ``counts.convert`` counts its calls."""
    monkeypatch.setattr(steps, "convert", _fake_convert(counts))
    return counts


@pytest.fixture
def fake_capture(tmp_path: Path) -> Path:
    return make_fake_capture(tmp_path / "cap")


def list_objects(client: S3Client, bucket: str) -> dict[str, tuple[int, str]]:
    """key -> (size, LastModified iso) of every object in the bucket."""
    out: dict[str, tuple[int, str]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = (obj["Size"], obj["LastModified"].isoformat())
    return out
