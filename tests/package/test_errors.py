"""Input and format errors lead with the file (and line) they are about."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfs_kit.cli import main
from sfs_kit.errors import FormatError, InputError, SfsFormatError
from sfs_kit.readers import read_pcd


def test_input_error_leads_with_the_file_and_line() -> None:
    err = InputError("Pose 0 has a NaN value.", source="/data/poses.csv", line=7)
    assert str(err) == "/data/poses.csv:7: Pose 0 has a NaN value."


def test_message_that_names_the_file_is_left_alone() -> None:
    err = SfsFormatError("File 'x.sfs' has no binary section.", source="/tmp/x.sfs")
    assert str(err) == "File 'x.sfs' has no binary section."


def test_bytes_sources_add_nothing() -> None:
    assert str(FormatError("Bad header.", source="<bytes>")) == "Bad header."
    assert str(InputError("Bad value.")) == "Bad value."


def test_cli_error_line_names_the_truncated_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "000003.pcd"
    path.write_bytes(
        b"VERSION .7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n"
        b"WIDTH 10\nHEIGHT 1\nPOINTS 10\nDATA binary\n" + b"\0" * 100
    )
    with pytest.raises(InputError, match=r"000003\.pcd"):
        read_pcd(path)
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sfs-kit: error: ")
    assert "000003.pcd" in err
