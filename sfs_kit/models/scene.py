"""``Scene``: the SFS 1.0 scene (spec section 2), the object every codec reads and writes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StrictInt, model_validator

from sfs_kit.models._tree import JsonObject, JsonTree
from sfs_kit.models.base import SfsModel
from sfs_kit.models.sensors import Sensor, SensorId

__all__ = ["Scene", "TimeUnit"]

TimeUnit = Literal["microseconds", "nanoseconds"]


class Scene(SfsModel):
    """A whole scene: sensors plus pass-through annotations, attributes and metadata.

    ``Scene.model_validate(d)`` accepts the dict scale-json-binary (or ``read_sfs_dict``)
    returns for a .sfs file; ``to_sfs_dict()`` gives that dict back with the same arrays.
    """

    version: Literal["1.0"] = "1.0"
    sensors: Annotated[tuple[Sensor, ...], Field(min_length=1)]
    annotations: tuple[JsonTree, ...] | None = None
    attributes: tuple[JsonTree, ...] | None = None
    time_offset: Annotated[StrictInt, Field(ge=0)] | None = None
    time_unit: TimeUnit = "microseconds"
    metadata: JsonObject | None = None

    @model_validator(mode="after")
    def _unique_ids(self) -> Self:
        seen: dict[str, SensorId] = {}
        for sensor in self.sensors:
            key = str(sensor.id)
            if key in seen:
                raise ValueError(
                    f"sensor ids must be unique (also after str()), found {seen[key]!r} "
                    f"and {sensor.id!r}"
                )
            seen[key] = sensor.id
        return self

    def to_sfs_dict(self) -> dict[str, Any]:
        """The plain tree the .sfs codec writes: dicts, lists, JSON scalars and numpy arrays."""
        return self.to_tree()

    def sensor(self, sensor_id: SensorId) -> Sensor:
        """The sensor with this id (compared after ``str()``); ``KeyError`` if there is none."""
        for sensor in self.sensors:
            if str(sensor.id) == str(sensor_id):
                return sensor
        raise KeyError(sensor_id)

    def iter_sensors(self, kind: str) -> Iterator[Sensor]:
        """The sensors of one ``type``, in scene order."""
        return (s for s in self.sensors if s.type == kind)
