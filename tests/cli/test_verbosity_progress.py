"""-v/-q before or after the subcommand; progress bars with rates, nested, quiet off a terminal."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from sfs_kit.cli import build_parser, main
from sfs_kit.cli._progress import Progress, ProgressDisplay, bars_enabled

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample_capture"


@pytest.mark.parametrize("argv", [["-v", "inspect", "x"], ["inspect", "x", "-v"],
                                  ["inspect", "-v", "x"]])
def test_verbose_is_accepted_anywhere(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    assert args.verbose + args.verbose_after_command == 1


def test_verbose_counts_add_up_and_quiet_wins(tmp_path: Path) -> None:
    args = build_parser().parse_args(["-v", "convert", str(SAMPLE), "-o", "x.sfs", "-vv"])
    assert args.verbose + args.verbose_after_command == 3
    args = build_parser().parse_args(["convert", str(SAMPLE), "-o", "x.sfs", "-q"])
    assert args.quiet_after_command


@pytest.mark.parametrize(("flag", "shown"), [(None, True), ("-q", False), ("--quiet", False)])
def test_quiet_after_the_command_silences_warnings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], flag: str | None,
    shown: bool,
) -> None:
    import sfs_kit.readers

    def describe(path: object, **_: object) -> dict[str, object]:
        logging.getLogger("sfs_kit.readers").warning("odd input")
        return {"kind": "image", "path": str(path), "format": "png", "width": 1, "height": 1,
                "bytes": 1}

    monkeypatch.setattr(sfs_kit.readers, "describe_input", describe)
    argv = ["inspect", "x.png", *([flag] if flag else [])]
    assert main(argv) == 0
    assert ("odd input" in capsys.readouterr().err) is shown
    assert bars_enabled(_Tty()) is shown  # -q also turns the bars off for that call


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_are_off_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    assert not bars_enabled(stream)
    with Progress("convert", 10, stream=stream) as bar:
        bar.update(10)
    assert stream.getvalue() == ""


def test_nested_bars_show_amounts_and_rates() -> None:
    stream = io.StringIO()
    with ProgressDisplay(stream=stream, enabled=True) as display:
        night = display.bar("captures", 2)
        upload = display.bar("upload", 2_000_000, unit="B")
        upload.set(2_000_000)
        upload.close()
        night.advance()
        night.advance()
        night.close()
    text = stream.getvalue()
    assert "captures" in text
    assert "2/2" in text  # counts
    assert "2.0/2.0 MB" in text  # bytes
    assert "100%" in text
