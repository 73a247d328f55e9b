"""Camera intrinsics and sensor extrinsics from JSON, YAML or OpenCV FileStorage YAML.

OpenCV FileStorage YAML starts with ``%YAML:1.0`` (not a valid YAML directive) and stores
matrices as ``!!opencv-matrix`` maps (``rows``, ``cols``, ``dt``, ``data``); PyYAML's
``safe_load`` rejects both, so the directive line is dropped and a ``SafeLoader`` subclass builds
the tag into a float64 array. ROS ``camera_info`` maps (``{rows, cols, data}`` without the tag)
are read the same way.

Intrinsics: a 3x3 ``camera_matrix``/``K`` (or ``fx fy cx cy`` keys), distortion
``distortion_coefficients``/``D`` in OpenCV order, ``k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4
[tx ty]]]]`` (4, 5, 8, 12 or 14 values) -> SFS ``brown_conrady`` ``k1 k2 p1 p2 k3 k4 k5 k6 lx
ly`` with lx = ly = 0; thin-prism (s1..s4) and tilt (tx, ty) terms must be zero. A
``distortion_model`` of ``fisheye``/``equidistant``/``kannala_brandt`` takes OpenCV fisheye
``k1..k4`` -> SFS ``fisheye``. An SFS-style ``{"model": ..., "params": [...]}`` is passed through
with its exact count checked. No distortion at all gives ``distortion_model="none"`` (SFS null).

Extrinsics: a 4x4/3x4 matrix, ``R`` + ``T``, or ``rotation`` (3x3 or quaternion) +
``translation``; the direction the file's transform maps is declared by the caller, never guessed,
and the result is always ``ego_from_sensor`` (4x4 float64, validated rigid).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import yaml

from sfs_kit._documents import StrictYamlLoader, load_json, load_yaml
from sfs_kit._excerpt import excerpt
from sfs_kit._paths import read_input_text
from sfs_kit.errors import InputError
from sfs_kit.readers._rigid import check_rigid, matrix_from_quat

__all__ = ["SFS_DISTORTION_PARAM_COUNTS", "CameraCalibration", "load_calibration_document",
           "read_extrinsics", "read_intrinsics"]

#: Exact params count per SFS distortion model (spec section 2.5).
SFS_DISTORTION_PARAM_COUNTS: dict[str, int] = {
    "brown_conrady": 10, "fisheye": 4, "mod_equi_fish": 4, "mod_kannala": 4,
    "fisheye_rad_tan_prism": 12, "fisheye_radial_custom": 10, "ftheta": 5, "omnidirectional": 9,
    "cylindrical": 0, "equirectangular": 0,
}
_OPENCV_MODELS = ("plumb_bob", "rational_polynomial", "radtan", "opencv", "pinhole",
                  "brown_conrady", "radial_tangential")
_FISHEYE_MODELS = ("fisheye", "equidistant", "kannala_brandt", "opencv_fisheye")
_MATRIX_KEYS = ("camera_matrix", "K", "k", "intrinsic_matrix", "cameraMatrix", "intrinsics",
                "M", "P")
_DISTORTION_KEYS = ("distortion_coefficients", "D", "d", "dist_coeffs", "distCoeffs",
                    "distortion", "distortion_params")
MAX_SIDE = 2**31 - 1
"""Largest image width/height (PNG's own limit; a JPEG side is at most 65535)."""
_WIDTH_KEYS = ("image_width", "width", "imageWidth")
_HEIGHT_KEYS = ("image_height", "height", "imageHeight")


@dataclass(frozen=True)
class CameraCalibration:
    """Pinhole intrinsics in pixels plus an SFS distortion model and its params (spec 2.5).

    ``distortion_model`` is an SFS model name, or ``"none"`` when the file has no distortion.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    distortion_model: str
    distortion_params: tuple[float, ...]
    skew: float = 0.0


class _OpenCvLoader(StrictYamlLoader):
    """The strict safe loader that also builds ``!!opencv-matrix`` maps into float64 arrays.

    NaN/inf values pass the loader: the readers name the matrix they sit in."""

    allow_nonfinite = True


def _opencv_matrix(loader: yaml.SafeLoader, node: yaml.Node) -> npt.NDArray[np.float64]:
    if not isinstance(node, yaml.MappingNode):
        raise yaml.constructor.ConstructorError(None, None, "an opencv-matrix must be a map",
                                                node.start_mark)
    mapping = loader.construct_mapping(node, deep=True)
    return _matrix_from_map(mapping, node.start_mark)


def _matrix_from_map(mapping: Mapping[object, object], mark: yaml.Mark | None
                     ) -> npt.NDArray[np.float64]:
    rows, cols, data = mapping.get("rows"), mapping.get("cols"), mapping.get("data")
    if not isinstance(rows, int) or not isinstance(cols, int) or not isinstance(data, list):
        raise yaml.constructor.ConstructorError(
            None, None, "an opencv-matrix needs integer rows, cols and a data list", mark)
    if rows * cols != len(data):
        raise yaml.constructor.ConstructorError(
            None, None, f"an opencv-matrix of {rows}x{cols} has {len(data)} data values", mark)
    try:
        return np.asarray(data, dtype=np.float64).reshape(rows, cols)
    except (TypeError, ValueError) as err:
        bad = next((v for v in data if isinstance(v, bool) or not isinstance(v, int | float)),
                   None)
        raise yaml.constructor.ConstructorError(
            None, None, f"opencv-matrix data is not numeric (found {excerpt(bad)})", mark
        ) from err


_OpenCvLoader.add_constructor("tag:yaml.org,2002:opencv-matrix", _opencv_matrix)


def load_calibration_document(path: str | os.PathLike[str]) -> dict[str, object]:
    """Parse a JSON, YAML or OpenCV FileStorage YAML file into a dict (matrices as arrays)."""
    name = os.fspath(path)
    text = read_input_text(path, what="calibration file")
    if name.lower().endswith(".json"):
        document = load_json(text, source=name, what="Calibration file", allow_nonfinite=True)
    else:
        if text.startswith("%YAML:"):
            text = "#" + text  # keep line numbers; the OpenCV directive is not valid YAML
        document = load_yaml(text, source=name, what="Calibration file", loader=_OpenCvLoader)
    if not isinstance(document, dict):
        raise InputError(f"Calibration file must hold a map at the top, found "
                         f"{type(document).__name__}.", source=name)
    return document


def _as_array(value: object, *, source: str, field: str) -> npt.NDArray[np.float64]:
    if isinstance(value, dict) and {"rows", "cols", "data"} <= set(value):
        try:
            return _matrix_from_map(value, None)
        except yaml.YAMLError as err:
            raise InputError(f"Matrix {field!r} is malformed: {err}.", source=source,
                             field=field) from err
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InputError(f"{field!r} is not a numeric array.", source=source,
                         field=field) from err
    return array


def _matrix_like(value: object) -> bool:
    return isinstance(value, list | np.ndarray) or (isinstance(value, dict) and "data" in value)


def _find(document: Mapping[str, object], keys: Sequence[str]) -> str | None:
    return next((k for k in keys if k in document), None)


def _number(document: Mapping[str, object], key: str, source: str) -> float:
    value = document.get(key)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]  # scale-lidar-toolkit's intrinsics.yaml: ``fx: [1970.0131]``
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"Calibration {key!r} must be a number, found {value!r}.",
                         source=source, field=key)
    return float(value)


def _select_camera(document: dict[str, object], camera: str | None, source: str
                   ) -> dict[str, object]:
    if camera is None:
        nested = document.get("intrinsics")
        return nested if isinstance(nested, dict) else document
    for container in (document.get("cameras"), document):
        if isinstance(container, dict) and isinstance(container.get(camera), dict):
            chosen: dict[str, object] = container[camera]
            nested = chosen.get("intrinsics")
            return nested if isinstance(nested, dict) else chosen
    raise InputError(f"Calibration file has no camera {camera!r}.", source=source, field=camera)


def read_intrinsics(
    path: str | os.PathLike[str],
    *,
    camera: str | None = None,
    width: int | None = None,
    height: int | None = None,
    matrix_key: str | None = None,
    distortion_key: str | None = None,
) -> CameraCalibration:
    """Read one camera's intrinsics; ``matrix_key``/``distortion_key`` pick e.g. ``M1``/``D1``.

    ``width``/``height`` fill in an image size the file lacks, and must agree with one it has.
    """
    source = os.fspath(path)
    document = _select_camera(load_calibration_document(path), camera, source)
    if matrix_key is not None and matrix_key not in document:
        raise InputError(f"Calibration file has no key {matrix_key!r}.", source=source,
                         field=matrix_key)
    key = matrix_key or next((k for k in _MATRIX_KEYS if _matrix_like(document.get(k))), None)
    skew = 0.0
    if key is not None:
        k = _as_array(document[key], source=source, field=key)
        if k.size == 9:
            k = k.reshape(3, 3)
        elif k.shape == (3, 4):
            k = k[:, :3]
        if k.shape != (3, 3) or not np.isfinite(k).all():
            raise InputError(f"Camera matrix {key!r} must be 3x3 and finite, found shape "
                             f"{k.shape!r}.", source=source, field=key)
        if k[1, 0] != 0 or k[2, 0] != 0 or k[2, 1] != 0 or k[2, 2] != 1:
            raise InputError(f"Camera matrix {key!r} is not of the form [[fx s cx] [0 fy cy] "
                             f"[0 0 1]]: {k.tolist()!r}.", source=source, field=key)
        fx, fy, cx, cy, skew = float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), \
            float(k[0, 1])
    else:
        missing = [n for n in ("fx", "fy", "cx", "cy") if n not in document]
        if missing:
            raise InputError(
                f"Calibration has no camera matrix ({'/'.join(_MATRIX_KEYS[:2])}) and no "
                f"{missing[0]!r}.", source=source, field=missing[0])
        fx, fy, cx, cy = (_number(document, n, source) for n in ("fx", "fy", "cx", "cy"))
        if "skew" in document:
            skew = _number(document, "skew", source)
    for label, value in (("fx", fx), ("fy", fy), ("cx", cx), ("cy", cy), ("skew", skew)):
        if not math.isfinite(value) or (label in ("fx", "fy") and value <= 0):
            raise InputError(f"Intrinsic {label} = {value!r} must be finite"
                             f"{' and > 0' if label in ('fx', 'fy') else ''}.", source=source,
                             field=label)
    model, params = _distortion(document, distortion_key, source)
    size = (_size(document, _WIDTH_KEYS, width, "width", source),
            _size(document, _HEIGHT_KEYS, height, "height", source))
    return CameraCalibration(fx=fx, fy=fy, cx=cx, cy=cy, width=size[0], height=size[1],
                             distortion_model=model, distortion_params=params, skew=skew)


def _size(document: Mapping[str, object], keys: Sequence[str], given: int | None, label: str,
          source: str) -> int:
    key = _find(document, keys)
    found: int | None = None
    if key is not None:
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SIDE:
            raise InputError(f"Image {label} {key!r} = {excerpt(value)} must be an integer "
                             f"1..{MAX_SIDE}.", source=source, field=key)
        found = value
    elif isinstance(document.get("resolution"), list) and len(document["resolution"]) == 2:  # type: ignore[arg-type]
        value = document["resolution"][0 if label == "width" else 1]  # type: ignore[index]
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SIDE:
            found = value
    if found is not None and given is not None and found != given:
        raise InputError(f"Image {label} {given} was given but the calibration says {found}.",
                         source=source, field=label)
    if found is None and given is None:
        raise InputError(f"Calibration has no image {label}; pass {label}=.", source=source,
                         field=label)
    result = found if found is not None else given
    assert result is not None
    if result > MAX_SIDE:
        raise InputError(f"Image {label} {result} is more than {MAX_SIDE}.", source=source,
                         field=label)
    return result


def _distortion(document: Mapping[str, object], key: str | None, source: str
                ) -> tuple[str, tuple[float, ...]]:
    if key is not None and key not in document:
        raise InputError(f"Calibration file has no key {key!r}.", source=source, field=key)
    key = key or _find(document, _DISTORTION_KEYS)
    model_name = document.get("distortion_model")
    if key is None:
        return ("none", ())
    value = document[key]
    if isinstance(value, dict) and "model" in value:  # SFS form {model, params}
        model_name, value = value.get("model"), value.get("params", [])
    coefficients = _as_array(value, source=source, field=key).ravel()
    if not np.isfinite(coefficients).all():
        raise InputError(f"Distortion {key!r} has a NaN or infinite value.", source=source,
                         field=key)
    model = str(model_name).lower() if model_name is not None else "opencv"
    values = tuple(float(v) for v in coefficients)
    if model in _FISHEYE_MODELS:
        if len(values) != 4:
            raise InputError(f"Fisheye distortion {key!r} needs 4 coefficients (k1..k4), found "
                             f"{len(values)}.", source=source, field=key)
        return ("fisheye", values)
    if model in _OPENCV_MODELS and not (model == "brown_conrady" and len(values) == 10):
        if not values or not any(values):
            return ("none", ()) if not values else ("brown_conrady", (0.0,) * 10)
        if len(values) not in (4, 5, 8, 12, 14):
            raise InputError(
                f"OpenCV distortion {key!r} has {len(values)} coefficients; 4, 5, 8, 12 or 14 "
                "are supported.", source=source, field=key)
        unsupported = [(n, v) for n, v in zip(("s1", "s2", "s3", "s4", "tx", "ty"), values[8:],
                                               strict=False) if v != 0.0]
        if unsupported:
            raise InputError(
                f"OpenCV distortion {key!r} has non-zero thin-prism/tilt terms {unsupported!r}, "
                "which brown_conrady cannot carry.", source=source, field=key)
        padded = (values[:8] + (0.0,) * 8)[:8]
        return ("brown_conrady", (*padded, 0.0, 0.0))
    if model in SFS_DISTORTION_PARAM_COUNTS:
        want = SFS_DISTORTION_PARAM_COUNTS[model]
        if len(values) != want:
            raise InputError(f"Distortion model {model!r} takes exactly {want} params, found "
                             f"{len(values)}.", source=source, field=key)
        return (model, values)
    raise InputError(f"Distortion model {model_name!r} is not supported.", source=source,
                     field="distortion_model")


def read_extrinsics(
    path: str | os.PathLike[str],
    *,
    direction: Literal["sensor_to_ego", "ego_to_sensor"],
    key: str | None = None,
    camera: str | None = None,
    quat_order: Literal["wxyz", "xyzw"] | None = None,
) -> npt.NDArray[np.float64]:
    """Read a sensor's extrinsics and return ``ego_from_sensor`` (4x4 float64, rigid).

    ``direction`` says what the file's transform maps: ``"sensor_to_ego"`` (points in the sensor
    frame to the ego frame, i.e. already ego_from_sensor) or ``"ego_to_sensor"`` (inverted here).
    """
    if direction not in ("sensor_to_ego", "ego_to_sensor"):
        raise InputError(f"direction must be 'sensor_to_ego' or 'ego_to_sensor', found "
                         f"{direction!r}.", field="direction")
    source = os.fspath(path)
    document = load_calibration_document(path)
    if camera is not None:
        for container in (document.get("cameras"), document.get("sensors"), document):
            if isinstance(container, dict) and isinstance(container.get(camera), dict):
                document = container[camera]
                break
        else:
            raise InputError(f"Calibration file has no sensor {camera!r}.", source=source,
                             field=camera)
    nested = document.get("extrinsics")
    if key is None and isinstance(nested, dict):
        document = nested
    matrix = _extrinsic_matrix(document, key, quat_order, source)
    field = key or "extrinsics"
    rigid = check_rigid(matrix, source=source, field=field)
    if direction == "sensor_to_ego":
        return rigid
    inverse = np.eye(4)
    rotation_t = rigid[:3, :3].T
    inverse[:3, :3] = rotation_t
    inverse[:3, 3] = -rotation_t @ rigid[:3, 3]
    return inverse


def _extrinsic_matrix(document: Mapping[str, object], key: str | None,
                      quat_order: Literal["wxyz", "xyzw"] | None, source: str
                      ) -> npt.NDArray[np.float64]:
    if key is not None:
        if key not in document:
            raise InputError(f"Calibration file has no key {key!r}.", source=source, field=key)
        array = _as_array(document[key], source=source, field=key)
        return array.reshape(-1, 4) if array.size in (12, 16) else array
    found = _find(document, ("matrix", "transform", "T_sensor_ego", "extrinsics", "T"))
    if found is not None:
        array = _as_array(document[found], source=source, field=found)
        if array.size in (12, 16):
            return array.reshape(-1, 4)
    rotation_key = _find(document, ("R", "rotation", "quaternion", "quat_xyzw", "quat_wxyz"))
    translation_key = _find(document, ("T", "t", "translation", "position"))
    if rotation_key is None or translation_key is None:
        raise InputError(
            "Extrinsics need a 4x4 'matrix'/'transform', or 'R'/'rotation' plus "
            "'T'/'translation'.", source=source, field="rotation" if rotation_key is None
            else "translation")
    translation = _as_array(document[translation_key], source=source,
                            field=translation_key).ravel()
    if translation.shape != (3,):
        raise InputError(f"Translation {translation_key!r} must have 3 values, found "
                         f"{translation.size}.", source=source, field=translation_key)
    rotation_value = document[rotation_key]
    if isinstance(rotation_value, dict) and not {"rows", "data"} <= set(rotation_value):
        keys = {str(k).lower().lstrip("q"): v for k, v in rotation_value.items()}
        if not {"x", "y", "z", "w"} <= set(keys):
            raise InputError(f"Quaternion {rotation_key!r} needs keys x, y, z, w.",
                             source=source, field=rotation_key)
        quat = np.array([keys["x"], keys["y"], keys["z"], keys["w"]], dtype=np.float64)
    else:
        rotation = _as_array(rotation_value, source=source, field=rotation_key)
        if rotation.size == 9:
            matrix = np.eye(4)
            matrix[:3, :3] = rotation.reshape(3, 3)
            matrix[:3, 3] = translation
            return matrix
        if rotation.size != 4:
            raise InputError(f"Rotation {rotation_key!r} must be 3x3 or a quaternion, found "
                             f"{rotation.size} values.", source=source, field=rotation_key)
        order = {"quat_xyzw": "xyzw", "quat_wxyz": "wxyz"}.get(rotation_key, quat_order)
        if order is None:
            raise InputError(f"Quaternion {rotation_key!r} is an unnamed 4-vector; pass "
                             "quat_order='wxyz' or 'xyzw'.", source=source, field=rotation_key)
        flat = rotation.ravel()
        quat = flat[[1, 2, 3, 0]] if order == "wxyz" else flat
    norm = float(np.linalg.norm(quat))
    if not math.isfinite(norm) or abs(norm - 1.0) > 1e-3:
        raise InputError(f"Quaternion {rotation_key!r} has norm {norm:.6g}; a unit quaternion "
                         "is required.", source=source, field=rotation_key)
    return matrix_from_quat(quat, translation)
