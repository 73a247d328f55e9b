"""A corrupt journal stops the run with a message saying that deleting it is safe."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfs_kit.errors import JournalFormatError
from sfs_kit.pipeline.config import RunConfig
from sfs_kit.pipeline.journal import Journal
from sfs_kit.pipeline.run import JOURNAL_NAME, run

from .conftest import Counts


def test_corrupt_journal_says_deleting_it_is_safe(fake_capture: Path, tmp_path: Path,
                                                  fake_convert: Counts) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / JOURNAL_NAME).write_bytes(b"NOTAJOURNAL")
    with pytest.raises(JournalFormatError,
                       match=r"does not start with b'SFSKJNL1'; found b'NOTAJOUR'\. Deleting the "
                             r"journal is safe: the run starts over, identical objects are not "
                             r"uploaded again, and the task's unique_id prevents a second task\.")\
            as info:
        run(fake_capture, RunConfig(out_dir=out))
    assert (info.value.source, info.value.offset) == (str(out / JOURNAL_NAME), 0)
    assert fake_convert.convert == 0
    (out / JOURNAL_NAME).unlink()
    assert run(fake_capture, RunConfig(out_dir=out)).dry_run


def test_journal_open_adds_the_hint(tmp_path: Path) -> None:
    path = tmp_path / "j"
    path.write_bytes(b"SFSKJNL1XXXXXXXXXXXX")
    with pytest.raises(JournalFormatError, match=r"has b.XX. at byte 8, expected record tag "
                                                 r"b.RC.\. Deleting the journal is safe"):
        Journal.open(path)
