"""Settings of ``sfs-kit run``: one ``RunConfig`` model, loaded from four layers.

Precedence, highest first: command-line values > environment (``SFS_KIT_*``, ``SCALE_API_KEY``,
``SCALE_API_BASE_URL``) > config file (``sfs-kit.toml`` in the working directory, or ``--config``)
> the model defaults. The store kind is chosen by the highest layer that names one: a ``--store``
on the command line overrides a bucket from the environment or file, and a layer naming both a
bucket and a store directory is an error.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from sfs_kit._paths import read_input_text
from sfs_kit._redact import protect_env
from sfs_kit.capture.options import ConvertOptions, option_specs
from sfs_kit.capture.recording.options import RecordingOptions
from sfs_kit.errors import InputError
from sfs_kit.models.validate_geometry import GeometryThresholds
from sfs_kit.pipeline.recording_settings import (
    merge_recording,
    recording_from_env,
    recording_layer,
)

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_EXPIRES_S",
    "DEFAULT_MIN_LIFETIME_S",
    "ENV_PREFIX",
    "RunConfig",
    "load_config",
    "load_convert_settings",
    "load_recording_settings",
    "parse_duration_s",
]

CONFIG_FILE_NAME = "sfs-kit.toml"
ENV_PREFIX = "SFS_KIT_"
DEFAULT_EXPIRES_S = 7 * 24 * 3600
DEFAULT_MIN_LIFETIME_S = 24 * 3600
MAX_EXPIRES_S = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days (spec section 6)
_STORE_FIELDS = ("bucket", "store_dir")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_HELP = "a duration like '7d', '12h', '90m', '1.5h' or '3600' (units s, m, h, d, w)"


def parse_duration_s(value: str | int | float, *, name: str = "duration") -> int:
    """``"7d"``, ``"12h"``, ``"1.5h"``, ``"90m"``, ``"3600"`` or a number of seconds -> whole
    seconds (rounded). The one duration parser of ``run``, ``upload`` and the config layers;
    ``name`` is the setting as the user spelled it (``--expires``), used in the error."""
    if isinstance(value, bool):
        raise InputError(f"Setting {name!r} must be a duration like '7d' or '3600', got {value!r}.",
                         field=name)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise InputError(f"Setting {name!r} must be a non-negative number of seconds, "
                             f"got {value!r}.", field=name)
        return round(value)
    match = _DURATION_RE.match(value)
    if match is None:
        raise InputError(f"Setting {name!r} must be {_DURATION_HELP}, got {value!r}.", field=name)
    seconds = float(match.group(1)) * _UNIT_S[match.group(2).lower()]
    if not math.isfinite(seconds):  # 400 digits make an infinite float, round() overflows
        raise InputError(f"Setting {name!r} must be {_DURATION_HELP}, got a number too large.",
                         field=name)
    if 0 < seconds < 0.5:  # would round to 0: say so instead of reporting "0"
        raise InputError(f"Setting {name!r} must be at least 1 s, got {value!r}.", field=name)
    return round(seconds)


class RunConfig(BaseModel):
    """Everything ``run`` needs besides the capture path; plain data, so it pickles.

    ``out_dir`` None means ``./sfs-kit-out/<capture name>``. No ``bucket`` means the embedded
    default store, a ``LocalStore`` in ``store_dir`` (default ``<out_dir>/store``) with ``file://``
    URLs. No ``api_key`` (or ``dry_run``) means a dry run writing ``<out_dir>/task_request.json``.
    ``convert`` holds the conversion options (``ConvertOptions``); in the config file, the
    environment and on the command line they are flat settings (``voxel_size = 0.1``,
    ``SFS_KIT_VOXEL_SIZE``, ``--voxel-size``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    format: Literal["sfs", "split_base64"] = "sfs"
    convert: ConvertOptions = Field(default_factory=ConvertOptions)
    recording: RecordingOptions | None = None  # topic mapping of a ROS recording ([recording])
    out_dir: Path | None = None
    # store
    bucket: str | None = None
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    store_dir: Path | None = None
    s3_uri: bool = False  # attachments as s3://bucket/key (Scale needs bucket access); no verify
    sse: Literal["AES256", "aws:kms"] | None = None
    sse_kms_key_id: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] | None = None
    expires_s: int = Field(default=DEFAULT_EXPIRES_S, gt=0)
    min_lifetime_s: int = Field(default=DEFAULT_MIN_LIFETIME_S, ge=0)
    verify: bool = True
    upload_workers: int = Field(default=8, ge=1)
    # task
    project: str | None = None
    batch: str | None = None
    blueprint_id: str | None = None
    priority: int | None = None
    tags: tuple[str, ...] = ()
    callback_url: str | None = None
    instruction: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    unique_id: str | None = None
    # geometric pre-flight (G-* rules) on the converted scene, before upload
    geometry: GeometryThresholds = Field(default_factory=GeometryThresholds)
    geometry_checks: bool = True
    strict_geometry: bool = False  # geometric errors stop the run before anything is uploaded
    # submission
    dry_run: bool = False
    api_key: SecretStr | None = None
    api_base_url: str | None = None

    @field_validator("expires_s", "min_lifetime_s", mode="before")
    @classmethod
    def _duration(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            try:
                return parse_duration_s(value, name=str(info.field_name))
            except InputError as err:
                reason = "at least 1 s" if "at least" in str(err) else _DURATION_HELP
                raise PydanticCustomError("duration", f"it must be {reason}") from err
        return value

    @field_validator("expires_s")
    @classmethod
    def _sigv4_max(cls, value: int) -> int:
        if value > MAX_EXPIRES_S:
            raise PydanticCustomError(
                "max_expires",
                f"{value} s exceeds the SigV4 maximum of {MAX_EXPIRES_S} s (7 days) for a "
                f"presigned URL",
            )
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(t.strip() for t in value.split(",") if t.strip())
        return value

    @model_validator(mode="after")
    def _s3_options(self) -> RunConfig:
        if self.s3_uri and self.bucket is None:
            raise PydanticCustomError("s3_uri_needs_bucket",
                                      "s3:// attachments need a bucket (there is none)")
        if self.sse_kms_key_id is not None and self.sse != "aws:kms":
            raise PydanticCustomError("kms_key_needs_kms",
                                      f"a KMS key id needs sse 'aws:kms', found {self.sse!r}")
        if self.convert.camera_video and self.format != "sfs":
            raise PydanticCustomError("camera_video_needs_sfs",
                                      "camera_video needs format sfs: split_base64 frames "
                                      "reference images, not videos")
        return self

    @property
    def is_dry_run(self) -> bool:
        """True when nothing will be POSTed: ``dry_run`` set or no API key."""
        return self.dry_run or self.api_key is None

    @property
    def uses_local_store(self) -> bool:
        """True for the embedded default (no bucket configured)."""
        return self.bucket is None


# field name -> environment variable (SFS_KIT_<NAME> unless listed)
_ENV_NAMES: dict[str, str] = {
    "api_key": "SCALE_API_KEY",
    "api_base_url": "SCALE_API_BASE_URL",
    "out_dir": "SFS_KIT_OUT",
    "store_dir": "SFS_KIT_STORE",
    "expires_s": "SFS_KIT_EXPIRES",
    "min_lifetime_s": "SFS_KIT_MIN_LIFETIME",
}
# config-file key -> field name, where they differ
_FILE_ALIASES: dict[str, str] = {
    "out": "out_dir",
    "store": "store_dir",
    "expires": "expires_s",
    "min_lifetime": "min_lifetime_s",
    "tag": "tags",
}
_FILE_ONLY_KEYS = ("api_key_env",)


_OPTIONS = option_specs()  # conversion option field name -> OptionSpec (flat settings)
_OPTION_BY_KEY = {spec.key: name for name, spec in _OPTIONS.items()}


def _settings() -> list[str]:
    """Every flat setting name: the RunConfig fields (but ``convert``) and the conversion
    options' field names."""
    return [*(f for f in RunConfig.model_fields if f != "convert"), *_OPTIONS]


def _env_name(field: str) -> str:
    if field in _OPTIONS:
        return ENV_PREFIX + _OPTIONS[field].key.upper()
    return _ENV_NAMES.get(field, ENV_PREFIX + field.upper())


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for field in _settings():
        if field in ("metadata", "geometry", "recording"):
            continue
        value = env.get(_env_name(field))
        if value is not None and value != "":
            layer[field] = value
    return layer


def _from_file(path: Path, *, explicit: bool) -> tuple[dict[str, Any], str | None]:
    """The config file's settings (with aliases resolved) and its ``api_key_env``, if any."""
    if not os.path.lexists(path):
        if not explicit:
            return {}, None
        raise InputError(f"Config file {str(path)!r} does not exist.", source=str(path))
    # a regular UTF-8 file only (a FIFO would block, /dev/zero never end)
    text = read_input_text(path, what="config file")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"Config file {str(path)!r} is not valid TOML ({err}).",
                         source=str(path)) from err
    except RecursionError as err:  # tomllib parses nested arrays and tables recursively
        raise InputError(f"Config file {str(path)!r} nests arrays or tables too deeply.",
                         source=str(path)) from err
    except ValueError as err:  # int() past Python's 4300-digit limit
        raise InputError(f"Config file {str(path)!r} has a number too long to read "
                         f"({str(err).split(':')[0]}).", source=str(path)) from err
    section = raw.get("run", raw)
    if not isinstance(section, dict):
        raise InputError(f"Config file {str(path)!r} key 'run' must be a table.",
                         source=str(path), field="run")
    if section is not raw and "geometry" in raw and "geometry" not in section:
        section = {**section, "geometry": raw["geometry"]}  # a top-level [geometry] table
    if section is not raw and "recording" in raw and "recording" not in section:
        section = {**section, "recording": raw["recording"]}  # likewise [recording]
    layer: dict[str, Any] = {}
    api_key_env: str | None = None
    for key, value in section.items():
        if key == "api_key_env":
            if not isinstance(value, str):
                raise InputError(f"Config file {str(path)!r} key 'api_key_env' must be a string, "
                                 f"got {value!r}.", source=str(path), field=key)
            api_key_env = value
            continue
        if key == "api_key":
            raise InputError(
                f"Config file {str(path)!r} must not hold 'api_key'; set SCALE_API_KEY or name "
                f"another variable with 'api_key_env'.", source=str(path), field=key,
            )
        field = _FILE_ALIASES.get(key, _OPTION_BY_KEY.get(key, key))
        if field not in _settings():
            known = sorted({*_settings(), *_FILE_ALIASES, *_FILE_ONLY_KEYS, *_OPTION_BY_KEY}
                           - {"api_key"})
            raise InputError(
                f"Config file {str(path)!r} has unknown key {key!r}; "
                f"known keys: {', '.join(known)}.",
                source=str(path), field=key,
            )
        if field in ("out_dir", "store_dir") and isinstance(value, str):
            candidate = Path(value).expanduser()
            layer[field] = candidate if candidate.is_absolute() else path.parent / candidate
        else:
            layer[field] = value
    return layer, api_key_env


def _check_store_layer(layer: Mapping[str, Any], origin: str) -> None:
    if layer.get("bucket") is not None and layer.get("store_dir") is not None:
        raise InputError(
            f"The {origin} sets both a bucket ({layer['bucket']!r}) and a local store directory; "
            f"choose one.", field="bucket",
        )


def _default_config_path(cwd: str | os.PathLike[str] | None) -> Path:
    """``<cwd>/sfs-kit.toml``; a working directory deleted under the process is our
    ``InputError`` (``os.getcwd`` raises ``FileNotFoundError`` there), not a traceback."""
    if cwd is not None:
        return Path(cwd) / CONFIG_FILE_NAME
    try:
        return Path(os.getcwd()) / CONFIG_FILE_NAME
    except FileNotFoundError as err:
        raise InputError(
            "The working directory no longer exists (deleted or unmounted); cd into an existing "
            "folder and run again, or give --config.", field=CONFIG_FILE_NAME) from err


def load_config(
    cli: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> RunConfig:
    """Merge the layers (CLI > env > file > defaults) into a validated ``RunConfig``.

    ``cli`` holds only the options the user gave (``None`` values are ignored). ``env`` defaults
    to ``os.environ``; the file is ``config_path`` or ``<cwd>/sfs-kit.toml`` if it exists.
    """
    environ = os.environ if env is None else env
    explicit = config_path is not None
    path = Path(config_path) if config_path is not None else _default_config_path(cwd)
    file_layer, api_key_env = _from_file(path, explicit=explicit)
    env_layer = _from_env(environ)
    if api_key_env is not None:
        protect_env(api_key_env)  # its value is a secret in everything the CLI prints
    if api_key_env is not None and "api_key" not in env_layer:
        value = environ.get(api_key_env)
        if value:
            env_layer["api_key"] = value
    cli_layer = {k: v for k, v in (cli or {}).items() if v is not None}
    unknown = sorted(set(cli_layer) - set(_settings()))
    if unknown:
        raise InputError(f"Unknown run settings {unknown!r}.", field=unknown[0])
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in (("config file", file_layer), ("environment", env_layer),
                          ("command line", cli_layer)):
        _check_store_layer(layer, origin)
        if any(layer.get(name) is not None for name in _STORE_FIELDS):
            for name in _STORE_FIELDS:
                merged.pop(name, None)
        merged.update(layer)
        origins.update(dict.fromkeys(layer, origin))
    merged["convert"] = _convert_options(merged, origins, path)
    merged["recording"] = merge_recording([
        (f"[recording] in {str(path)!r}", recording_layer(file_layer.get("recording"), str(path))),
        ("environment", recording_from_env(environ)),
        ("command line", recording_layer(cli_layer.get("recording"), "command line")),
    ])
    try:
        return RunConfig.model_validate(merged)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(part) for part in first["loc"]) or _MODEL_RULE_FIELDS.get(
            first["type"], "")
        value = first.get("input") if first["loc"] else merged.get(loc)  # never the whole dict
        shown = "a secret" if loc == "api_key" else repr(value)
        label = _setting_label(loc, origins.get(loc.split(".")[0]), path)
        raise InputError(
            f"Run setting {label} is invalid: {first['msg']} (got {shown}).", field=loc,
        ) from err


def _convert_options(merged: dict[str, Any], origins: Mapping[str, str],
                     path: Path) -> ConvertOptions:
    """Pop the flat conversion settings out of ``merged`` into one ``ConvertOptions``; an invalid
    value is an ``InputError`` naming the setting as the user spelled it."""
    values = {name: merged.pop(name) for name in _OPTIONS if name in merged}
    for name, value in values.items():
        try:
            ConvertOptions.from_settings({name: value})
        except InputError as err:
            label = _setting_label(name, origins.get(name), path)
            raise InputError(f"Run setting {label} is invalid: {str(err).rstrip('.')}.",
                             field=name) from err
    return ConvertOptions.from_settings(values)


def load_convert_settings(
    cli: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> tuple[Literal["sfs", "split_base64"], ConvertOptions]:
    """The format and conversion options of ``sfs-kit convert``, from the same layers and with
    the same names as ``load_config`` (CLI > ``SFS_KIT_*`` > ``sfs-kit.toml`` > defaults); the
    store and task settings of those layers are ignored here."""
    environ = os.environ if env is None else env
    path = Path(config_path) if config_path is not None else _default_config_path(cwd)
    file_layer, _ = _from_file(path, explicit=config_path is not None)
    wanted = {"format", *_OPTIONS}
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in (("config file", file_layer), ("environment", _from_env(environ)),
                          ("command line", {k: v for k, v in (cli or {}).items()
                                            if v is not None})):
        chosen = {k: v for k, v in layer.items() if k in wanted}
        merged.update(chosen)
        origins.update(dict.fromkeys(chosen, origin))
    options = _convert_options(merged, origins, path)
    fmt = merged.get("format", "sfs")
    if fmt not in ("sfs", "split_base64"):
        label = _setting_label("format", origins.get("format"), path)
        raise InputError(f"Setting {label} must be 'sfs' or 'split_base64', got {fmt!r}.",
                         field="format")
    return fmt, options


def load_recording_settings(
    cli: RecordingOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> RecordingOptions | None:
    """The recording mapping of ``convert``/``inspect``/``preview``: the flags' options over
    ``SFS_KIT_*`` over ``[recording]`` in ``sfs-kit.toml``, key by key (``recording_settings``)."""
    environ = os.environ if env is None else env
    path = Path(config_path) if config_path is not None else _default_config_path(cwd)
    file_layer, _ = _from_file(path, explicit=config_path is not None)
    return merge_recording([
        (f"[recording] in {str(path)!r}", recording_layer(file_layer.get("recording"), str(path))),
        ("environment", recording_from_env(environ)),
        ("command line", recording_layer(cli, "command line")),
    ])


# model-level rules -> the setting they are about
_MODEL_RULE_FIELDS = {"s3_uri_needs_bucket": "s3_uri", "kms_key_needs_kms": "sse_kms_key_id"}
# field name -> command-line option, where it is not --<field with dashes>
_CLI_NAMES: dict[str, str] = {
    "out_dir": "--out",
    "store_dir": "--store",
    "expires_s": "--expires",
    "min_lifetime_s": "--min-lifetime",
    "tags": "--tag",
}


def _setting_label(loc: str, origin: str | None, path: Path) -> str:
    """The setting as the user spelled it: ``'--expires'``, ``SFS_KIT_EXPIRES`` or the file key."""
    field = loc.split(".", maxsplit=1)[0]
    if origin == "command line":
        flag = _OPTIONS[field].flag if field in _OPTIONS else None
        return repr(flag or _CLI_NAMES.get(field, "--" + field.replace("_", "-")))
    if origin == "environment":
        return _env_name(field)
    if origin == "config file":
        if field in _OPTIONS:
            return f"{_OPTIONS[field].key!r} in {str(path)!r}"
        key = next((k for k, v in _FILE_ALIASES.items() if v == field), field)
        nested = loc.split(".", maxsplit=1)[1:]  # e.g. geometry.max_speed_mps
        return f"{'.'.join([key, *nested])!r} in {str(path)!r}"
    return repr(loc)
