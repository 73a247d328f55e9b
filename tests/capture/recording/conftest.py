"""Recordings of the test drive in every container, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from .drive import write_drive

CONTAINERS = ("ros1", "ros2", "mcap_folder", "mcap")


@pytest.fixture(scope="session")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``ros1`` .bag, ``ros2`` sqlite3 folder, ``mcap_folder`` (ROS 2 folder), bare ``mcap``."""
    base = tmp_path_factory.mktemp("recordings")
    folder = write_drive(base / "drive_mcap", "mcap")
    return {
        "ros1": write_drive(base / "drive.bag", "ros1"),
        "ros2": write_drive(base / "drive_db3", "ros2"),
        "mcap_folder": folder,
        "mcap": next(folder.glob("*.mcap")),
    }
