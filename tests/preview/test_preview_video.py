"""``sfs-kit preview`` draws video cameras like image cameras (frames decoded with PyAV)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sfs_kit import read_sfs
from sfs_kit.capture import convert_capture
from sfs_kit.cli import main
from sfs_kit.errors import InputError
from sfs_kit.models import CameraSensor
from sfs_kit.preview import decode_camera_image

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample capture as .sfs with images and with camera videos."""
    root = tmp_path_factory.mktemp("preview_video")
    images, video = root / "images.sfs", root / "video.sfs"
    convert_capture(SAMPLE, images, format="sfs")
    convert_capture(SAMPLE, video, format="sfs", camera_video=True)
    return images, video


def test_video_frames_decode_like_the_images(pair: tuple[Path, Path]) -> None:
    images, video = (read_sfs(p) for p in pair)
    for a, b in zip(images.sensors, video.sensors, strict=True):
        if not isinstance(a, CameraSensor):
            continue
        assert isinstance(b, CameraSensor)
        assert b.video is not None
        for k in range(5):
            from_jpeg = decode_camera_image(a, k).astype(int)
            from_mp4 = decode_camera_image(b, k).astype(int)
            assert from_mp4.shape == from_jpeg.shape == (240, 320, 3)
            assert np.abs(from_jpeg - from_mp4).mean() < 6.0
        assert decode_camera_image(b, 0, max_width=100).shape == (120, 160, 3)
        with pytest.raises(InputError, match="has 5 video frames; there is no frame 5"):
            decode_camera_image(b, 5)


def test_cli_preview_of_a_scene_with_camera_videos(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pictures = []
    for path in pair:
        out = tmp_path / f"{path.stem}.png"
        assert main(["preview", str(path), "-o", str(out), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert [c["id"] for c in report["cameras"]] == ["cam_front", "cam_left"]
        pictures.append(np.asarray(Image.open(out).convert("RGB"), dtype=np.int16))
    assert pictures[0].shape == pictures[1].shape
    assert np.abs(pictures[0] - pictures[1]).mean() < 2.0  # the same figure, video or images


def test_rerun_recording_of_a_video_camera_has_its_frames(pair: tuple[Path, Path],
                                                          tmp_path: Path) -> None:
    pytest.importorskip("rerun")
    from rerun.chunk import RrdReader

    from sfs_kit.preview import write_rerun

    scene = read_sfs(pair[1])
    path = tmp_path / "video.rrd"
    assert write_rerun(scene, path, frames=[0, 3]) == 2
    shapes: dict[str, list[tuple[int, ...]]] = {}
    for chunk in RrdReader(path).store().stream():
        batch = chunk.to_record_batch()
        for name, col in zip(batch.schema.names, batch.columns, strict=True):
            if name.endswith("Image:format"):
                for fmt in col.to_pylist():
                    if fmt is not None:
                        shapes.setdefault(chunk.entity_path, []).append(
                            (fmt[0]["height"], fmt[0]["width"]))
    assert shapes == {"/world/cam_front": [(240, 320)] * 2, "/world/cam_left": [(240, 320)] * 2}
