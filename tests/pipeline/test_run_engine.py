"""The run engine with a small deterministic converter: order, journal, idempotency, crashes.

Real SeaweedFS and the Scale stand-in; the converter is replaced (``fake_convert``) so these tests
pin the engine itself. ``test_run_e2e.py`` runs the real converter.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
import urllib3
from _servers.scale_standin import API_KEY, ScaleStandin
from _servers.seaweed import SeaweedServer

from sfs_kit.errors import SfsKitError, TaskRequestError
from sfs_kit.pipeline import run as run_module
from sfs_kit.pipeline import steps
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.journal import Journal
from sfs_kit.pipeline.result import PipelineProgress
from sfs_kit.pipeline.run import JOURNAL_NAME, REQUEST_NAME, run
from sfs_kit.storage import sha256_file

from .conftest import Counts, list_objects, make_fake_capture

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

Fmt = Literal["sfs", "split_base64"]
STEPS: dict[str, tuple[str, ...]] = {
    "sfs": ("convert", "geometry", "upload", "presign", "verify", "submit_intent", "submit"),
    "split_base64": ("convert", "geometry", "upload_images", "presign_images", "write_frames",
                     "upload", "presign", "verify", "submit_intent", "submit"),
}


class CrashError(Exception):
    """Stands in for the process dying right after a step's record was written."""


def _s3_config(server: SeaweedServer, bucket: str, standin: ScaleStandin, out: Path,
               fmt: Fmt = "sfs", **extra: Any) -> RunConfig:
    return RunConfig(format=fmt, out_dir=out, bucket=bucket, prefix="runs",
                     endpoint_url=server.endpoint_url, region=server.region, project="proj",
                     api_key=API_KEY, api_base_url=standin.base_url, **extra)


def _get(url: str) -> bytes:
    response = urllib3.request("GET", url, timeout=10, retries=False)
    assert response.status == 200, (response.status, url)
    return response.data


# --- embedded default ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_embedded_default_dry_run(fake_capture: Path, tmp_path: Path, fake_convert: Counts,
                                  fmt: Fmt) -> None:
    out = tmp_path / "out"
    result = run(fake_capture, RunConfig(format=fmt, out_dir=out))
    assert result.dry_run
    assert result.task_id is None
    assert result.request_path == str(out / REQUEST_NAME)
    request = json.loads((out / REQUEST_NAME).read_text())
    assert request["method"] == "POST"
    assert request["url"].endswith("/v1/task/multistage")
    assert request["headers"]["Authorization"] == "Basic <redacted>"
    body = request["body"]
    assert body["attachments"] == result.attachments
    assert body["unique_id"] == result.unique_id
    assert body["scene_format"] == ("sensor_fusion" if fmt == "sfs" else "split_base64")
    assert all(url.startswith("file://") for url in result.attachments)
    assert any("dry run" in w for w in result.warnings)
    for obj in result.objects:  # the local store holds the exact files
        assert obj.url.startswith("file://")
        assert sha256_file(obj.url[len("file://"):]) == obj.sha256
    if fmt == "split_base64":
        frame = json.loads(Path(result.attachments[0][len("file://"):]).read_text())
        assert frame["images"][0]["image_url"].startswith("file://")


def test_rerun_of_finished_run_repeats_nothing(fake_capture: Path, tmp_path: Path,
                                                fake_convert: Counts) -> None:
    config = RunConfig(format="split_base64", out_dir=tmp_path / "out")
    first = run(fake_capture, config)
    request_before = (tmp_path / "out" / REQUEST_NAME).stat().st_mtime_ns
    second = run(fake_capture, config)
    assert fake_convert.convert == 1
    assert all(step.resumed for step in second.steps)
    assert not any(step.resumed for step in first.steps)
    assert second.bytes_uploaded == 0
    assert first.bytes_uploaded > 0
    assert second.unique_id == first.unique_id
    assert second.attachments == first.attachments
    assert (tmp_path / "out" / REQUEST_NAME).stat().st_mtime_ns == request_before


def test_changed_capture_gives_new_content_and_id(fake_capture: Path, tmp_path: Path,
                                                   fake_convert: Counts) -> None:
    config = RunConfig(out_dir=tmp_path / "out", project="p")
    first = run(fake_capture, config)
    (fake_capture / "lidar-0.bin").write_bytes(b"changed")
    second = run(fake_capture, config)
    assert fake_convert.convert == 2
    assert second.content_sha256 != first.content_sha256
    assert second.unique_id != first.unique_id


def test_unique_id_stable_across_out_dirs_and_override(fake_capture: Path, tmp_path: Path,
                                                       fake_convert: Counts) -> None:
    a = run(fake_capture, RunConfig(out_dir=tmp_path / "a", project="p"))
    b = run(fake_capture, RunConfig(out_dir=tmp_path / "b", project="p"))
    c = run(fake_capture, RunConfig(out_dir=tmp_path / "c", project="q"))
    d = run(fake_capture, RunConfig(out_dir=tmp_path / "d", project="p", unique_id="mine-1"))
    assert a.unique_id == b.unique_id
    assert a.unique_id.startswith("sfs-kit-")
    assert a.unique_id_source == "derived"
    assert c.unique_id != a.unique_id
    assert (d.unique_id, d.unique_id_source) == ("mine-1", "override")
    assert json.loads((tmp_path / "d" / REQUEST_NAME).read_text())["body"]["unique_id"] == "mine-1"


def test_dry_run_still_refuses_real_request_errors(fake_capture: Path, tmp_path: Path,
                                                   fake_convert: Counts) -> None:
    with pytest.raises(TaskRequestError, match=r"field 'priority' breaks rule 'one_of_10_20_30'"):
        run(fake_capture, RunConfig(out_dir=tmp_path / "o", project="p", priority=15))


def test_missing_capture_raises(tmp_path: Path) -> None:
    with pytest.raises(SfsKitError, match=r"Capture '.*nope' does not exist"):
        run(tmp_path / "nope", RunConfig(out_dir=tmp_path / "o"))


def test_run_pickles_and_runs_in_a_process_pool(fake_capture: Path, tmp_path: Path,
                                                fake_convert: Counts) -> None:
    assert pickle.loads(pickle.dumps(run)) is run
    config = RunConfig(out_dir=tmp_path / "pool", project="p")
    with ProcessPoolExecutor(max_workers=1) as pool:  # fork: the worker has the fake converter
        result = pool.submit(run, str(fake_capture), config).result(timeout=120)
    assert result.request_path == str(tmp_path / "pool" / REQUEST_NAME)
    assert pickle.loads(pickle.dumps(result)) == result


def test_progress_events(fake_capture: Path, tmp_path: Path, fake_convert: Counts) -> None:
    events: list[PipelineProgress] = []
    run(fake_capture, RunConfig(format="split_base64", out_dir=tmp_path / "o"),
        on_progress=events.append)
    steps_seen = {e.step for e in events}
    assert {"upload_images", "upload", "presign", "write_frames", "submit"} <= steps_seen
    last_upload = [e for e in events if e.step == "upload"][-1]
    assert last_upload.files_done == last_upload.files_total == 3
    assert last_upload.bytes_done == last_upload.bytes_total > 0


# --- S3 and the stand-in ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_s3_run_creates_one_task_with_working_urls(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, s3_client: S3Client, scale_standin: ScaleStandin, fmt: Fmt,
) -> None:
    config = _s3_config(s3_env, s3_bucket, scale_standin, tmp_path / "out", fmt)
    result = run(fake_capture, config)
    assert result.task_id is not None
    assert not result.dry_run
    assert len(scale_standin.tasks) == 1
    body = scale_standin.posts()[0].body
    assert body["attachments"] == result.attachments
    assert body["unique_id"] == result.unique_id
    for obj in result.objects:
        assert "X-Amz-Signature=" in obj.url
        data = _get(obj.url)
        assert len(data) == obj.size
        assert sha256_file(tmp_path / "out" / obj.name) == obj.sha256
        assert hashlib.sha256(data).hexdigest() == obj.sha256
        assert obj.expires_at is not None
    if fmt == "split_base64":
        images = {o.url for o in result.objects if o.role == "image"}
        for url in result.attachments:
            frame = json.loads(_get(url))
            for image in frame["images"]:
                assert image["image_url"] in images
                assert _get(image["image_url"]).startswith(b"\xff\xd8\xff")
    stored = list_objects(s3_client, s3_bucket)
    assert sorted(stored) == sorted(o.key for o in result.objects)
    assert fake_convert.puts == len(result.objects)
    again = run(fake_capture, config)
    assert again.task_id == result.task_id
    assert len(scale_standin.posts()) == 1
    assert fake_convert.puts == len(result.objects)
    assert list_objects(s3_client, s3_bucket) == stored


# Every step is covered with the real converter in test_run_e2e.py; a few here pin the engine.
@pytest.mark.parametrize(("fmt", "crash_after"), [("sfs", "submit_intent"),
                                                  ("split_base64", "presign_images"),
                                                  ("split_base64", "submit")])
def test_crash_after_each_step_then_resume(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, s3_client: S3Client, scale_standin: ScaleStandin,
    monkeypatch: pytest.MonkeyPatch, fmt: Fmt, crash_after: str,
) -> None:
    config = _s3_config(s3_env, s3_bucket, scale_standin, tmp_path / "out", fmt)

    def crash(step: str) -> None:
        if step == crash_after:
            raise CrashError(step)

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "_crash_point", crash)
        with pytest.raises(CrashError):
            run(fake_capture, config)
    finished = STEPS[fmt][: STEPS[fmt].index(crash_after) + 1]
    result = run(fake_capture, config)
    assert fake_convert.convert == 1
    assert len(scale_standin.tasks) == 1
    assert len(scale_standin.posts()) == 1
    assert result.task_id == scale_standin.tasks[0]["task_id"]
    stored = list_objects(s3_client, s3_bucket)
    assert sorted(stored) == sorted(o.key for o in result.objects)
    assert fake_convert.puts == len(result.objects)  # every object was sent exactly once
    for obj in result.objects:
        data = s3_client.get_object(Bucket=s3_bucket, Key=obj.key)["Body"].read()
        assert hashlib.sha256(data).hexdigest() == obj.sha256
    resumed = {t.step for t in result.steps if t.resumed}
    redone = {t.step for t in result.steps if not t.resumed}
    # a live submission verifies the URLs it sends in its own run, even after a journaled verify
    reverified = {"verify"} if crash_after != "submit" else set()
    assert resumed == {s for s in finished if s != "submit_intent"} - reverified
    assert not (redone & (set(finished) - reverified))


def test_lost_journal_never_duplicates_the_task(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin,
) -> None:
    config = _s3_config(s3_env, s3_bucket, scale_standin, tmp_path / "out")
    first = run(fake_capture, config)
    (tmp_path / "out" / JOURNAL_NAME).unlink()
    second = run(fake_capture, config)
    assert len(scale_standin.tasks) == 1
    assert second.task_id == first.task_id
    assert second.bytes_uploaded == 0  # identical objects were not sent again
    assert fake_convert.puts == 1


def test_post_succeeded_but_not_journaled_recovers_the_task(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = _s3_config(s3_env, s3_bucket, scale_standin, tmp_path / "out")
    real_create = steps.create_task

    def create_then_die(*args: Any, **kwargs: Any) -> Any:
        real_create(*args, **kwargs)
        raise CrashError("after POST, before the journal record")

    with monkeypatch.context() as patch:
        patch.setattr(steps, "create_task", create_then_die)
        with pytest.raises(CrashError):
            run(fake_capture, config)
    result = run(fake_capture, config)
    assert len(scale_standin.tasks) == 1
    assert len(scale_standin.posts()) == 2  # the second answered 409 -> looked up
    assert result.task_id == scale_standin.tasks[0]["task_id"]


@pytest.mark.parametrize("fmt", ["sfs", "split_base64"])
def test_expiring_urls_are_resigned_before_submission(
    fake_capture: Path, tmp_path: Path, fake_convert: Counts, s3_env: SeaweedServer,
    s3_bucket: str, scale_standin: ScaleStandin, monkeypatch: pytest.MonkeyPatch, fmt: Fmt,
) -> None:
    config = _s3_config(s3_env, s3_bucket, scale_standin, tmp_path / "out", fmt,
                        expires_s=3 * 86400)

    def crash(step: str) -> None:
        if step == "verify":
            raise CrashError(step)

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "_crash_point", crash)
        with pytest.raises(CrashError):
            run(fake_capture, config)
    first_urls = {json.dumps(r.data, sort_keys=True) for r in
                  Journal.open(tmp_path / "out" / JOURNAL_NAME).records
                  if r.step.startswith("presign")}
    time.sleep(1.1)  # SigV4 URLs carry X-Amz-Date to the second: make the new ones differ
    real_now = run_module._now()
    monkeypatch.setattr(run_module, "_now", lambda: real_now + timedelta(days=2, hours=1))
    result = run(fake_capture, config)
    redone = {t.step for t in result.steps if not t.resumed}
    assert "presign" in redone
    assert "verify" in redone
    sent = scale_standin.posts()[0].body["attachments"]
    assert sent == result.attachments
    assert not any(url in blob for url in sent for blob in first_urls)
    if fmt == "split_base64":
        assert {"presign_images", "write_frames", "upload"} <= redone
        frame = json.loads(_get(sent[0]))
        assert _get(frame["images"][0]["image_url"]).startswith(b"\xff\xd8\xff")
    assert len(scale_standin.tasks) == 1


def test_rewrite_frame_urls_keeps_bytes_except_url(tmp_path: Path) -> None:
    stage = tmp_path / steps.STAGE_DIR / "frames"
    stage.mkdir(parents=True)
    src = stage / "frame-00000.json"
    text = ('{"device_position":{"x":0.1,"y":1e-07,"z":123456.789},"timestamp":1700000000000000001,'
            '"points":"AAAA","images":[{"image_url":"../images/c/0.jpg","fx":500.25}]}')
    src.write_text(text)
    dest = tmp_path / "final" / "frame-00000.json"
    size, _ = steps.rewrite_frame_urls(src, dest, {"images/c/0.jpg": "https://h/x?sig=1"})
    out = dest.read_text()
    assert out == text.replace("../images/c/0.jpg", "https://h/x?sig=1")
    assert size == len(out)


def test_rewrite_frame_urls_unknown_image_raises(tmp_path: Path) -> None:
    stage = tmp_path / steps.STAGE_DIR / "frames"
    stage.mkdir(parents=True)
    src = stage / "f.json"
    src.write_text('{"images":[{"image_url":"../images/missing.jpg"}]}')
    with pytest.raises(SfsKitError, match=r"image_url '../images/missing.jpg' names no converted"):
        steps.rewrite_frame_urls(src, tmp_path / "d.json", {})
    src.write_text('{"images":[{"image_url":3}]}')
    with pytest.raises(SfsKitError, match=r"images\[0\].image_url must be a string"):
        steps.rewrite_frame_urls(src, tmp_path / "d.json", {})
    src.write_text('{"images":{}}')
    with pytest.raises(SfsKitError, match=r"key 'images' must be a list"):
        steps.rewrite_frame_urls(src, tmp_path / "d.json", {})
    src.write_text('{"images":')
    with pytest.raises(SfsKitError, match=r"cannot be read as JSON"):
        steps.rewrite_frame_urls(src, tmp_path / "d.json", {})


def test_make_fake_capture_is_deterministic(tmp_path: Path) -> None:
    a = make_fake_capture(tmp_path / "a")
    b = make_fake_capture(tmp_path / "b")
    def contents(root: Path) -> list[bytes]:
        return [p.read_bytes() for p in sorted(root.iterdir())]

    assert contents(a) == contents(b)


def test_second_concurrent_run_on_same_out_dir_is_refused(fake_capture: Path, tmp_path: Path,
                                                         fake_convert: Counts) -> None:
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    with (out / run_module.LOCK_NAME).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(SfsKitError, match=r"Output folder '.*out' is in use by another"):
            run(fake_capture, RunConfig(out_dir=out))
    assert fake_convert.convert == 0
    assert run(fake_capture, RunConfig(out_dir=out)).dry_run


def test_validation_error_stops_before_anything_is_stored(
    fake_capture: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sfs_kit.errors import SceneValidationError

    def invalid(*args: Any, **kwargs: Any) -> steps.Converted:
        raise SceneValidationError("Scene is invalid: 1 error (V-T1 at sensors[0]).")

    monkeypatch.setattr(steps, "convert", invalid)
    with pytest.raises(SceneValidationError, match=r"Scene is invalid"):
        run(fake_capture, RunConfig(out_dir=tmp_path / "out"))
    assert not (tmp_path / "out" / "store").exists()
    assert Journal.open(tmp_path / "out" / JOURNAL_NAME).records == []
