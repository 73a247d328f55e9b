"""A ROS recording's mapping from ``sfs-kit.toml`` and ``SFS_KIT_*``, under the command line's.

The ``[recording]`` table (``[run.recording]`` beside other ``[run]`` keys) holds the keys of
``RecordingOptions``; the environment has one variable per key (``RECORDING_ENV``: lists
comma-separated, ``IMAGE=INFO`` camera pairs, ``TOPIC=VALUE`` intensity scales). The layers merge
key by key -- command line > environment > file -- so ``--every 2`` keeps the file's topics. A
capture manifest's own keys are overridden by the result, as by the flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sfs_kit.errors import InputError

if TYPE_CHECKING:
    from sfs_kit.capture.recording.options import RecordingOptions

__all__ = ["RECORDING_ENV", "merge_recording", "recording_from_env", "recording_layer"]

RECORDING_ENV: dict[str, str] = {
    "lidar_topics": "SFS_KIT_LIDAR_TOPICS",
    "cameras": "SFS_KIT_CAMERA_TOPICS",
    "world_frame": "SFS_KIT_WORLD_FRAME",
    "ego_frame": "SFS_KIT_EGO_FRAME",
    "pose_topic": "SFS_KIT_POSE_TOPIC",
    "time_source": "SFS_KIT_TIME_SOURCE",
    "start_s": "SFS_KIT_START",
    "end_s": "SFS_KIT_END",
    "every": "SFS_KIT_EVERY",
    "image_tolerance_ms": "SFS_KIT_IMAGE_TOLERANCE_MS",
    "intensity_max": "SFS_KIT_INTENSITY_MAX",
    "sweep_stamp": "SFS_KIT_SWEEP_STAMP",
}


def _items(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def recording_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """The recording keys the environment sets (unvalidated values, by field name)."""
    out: dict[str, Any] = {}
    for field, name in RECORDING_ENV.items():
        value = env.get(name)
        if not value:
            continue
        if field == "lidar_topics":
            out[field] = _items(value)
        elif field == "cameras":
            pairs = [item.partition("=") for item in _items(value)]
            out[field] = [{"image": image, "info": info or None} for image, _, info in pairs]
        elif field in ("intensity_max", "sweep_stamp"):
            pairs_of: dict[str, str] = {}
            for item in _items(value):
                topic, sep, text = item.partition("=")
                if not sep or not topic or not text:
                    raise InputError(f"{name}: {item!r} is no TOPIC=VALUE pair.", field=name)
                pairs_of[topic] = text
            out[field] = pairs_of
        else:
            out[field] = value
    return out


def recording_layer(value: object, where: str) -> dict[str, Any]:
    """A layer's recording keys: a file's ``[recording]`` table, or the flags' options."""
    if value is None:
        return {}
    from sfs_kit.capture.recording.options import RecordingOptions

    if isinstance(value, RecordingOptions):
        return value.model_dump(exclude_unset=True)
    if not isinstance(value, Mapping):
        raise InputError(f"{where}: 'recording' must be a table of recording keys, got "
                         f"{type(value).__name__}.", field="recording")
    return dict(value)


def merge_recording(layers: Sequence[tuple[str, Mapping[str, Any]]]) -> RecordingOptions | None:
    """The layers (lowest first, each labelled for messages) merged key by key; ``None`` when
    none sets a key. An invalid value names the key and the layer it came from."""
    from pydantic import ValidationError

    from sfs_kit.capture.recording.options import RecordingOptions

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for label, layer in layers:
        merged.update(layer)
        origin.update(dict.fromkeys(layer, label))
    if not merged:
        return None
    try:
        return RecordingOptions.model_validate(merged)
    except ValidationError as err:
        first = err.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "recording"
        label = origin.get(key, "the settings")
        if label == "environment" and key in RECORDING_ENV:
            label = RECORDING_ENV[key]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(
            f"Recording setting {where!r} ({label}) is invalid: {first['msg']} "
            f"(got {first.get('input')!r}).",
            field=f"recording.{where}",
        ) from err
