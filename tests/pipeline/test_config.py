"""RunConfig loading: CLI > env > config file > defaults, store-kind override, errors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from sfs_kit.errors import InputError
from sfs_kit.pipeline.config import (
    DEFAULT_EXPIRES_S,
    RunConfig,
    load_config,
    parse_duration_s,
)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sfs-kit.toml"
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    config = load_config({}, env={}, cwd=tmp_path)
    assert config == RunConfig()
    assert config.expires_s == DEFAULT_EXPIRES_S
    assert config.uses_local_store
    assert config.is_dry_run


def test_precedence_cli_over_env_over_file(tmp_path: Path) -> None:
    _toml(tmp_path, 'project = "file-p"\nbatch = "file-b"\npriority = 10\nformat = "split_base64"\n'
                    'expires = "2d"\n')
    env = {"SFS_KIT_PROJECT": "env-p", "SFS_KIT_BATCH": "env-b", "SFS_KIT_EXPIRES": "12h"}
    config = load_config({"project": "cli-p", "priority": None}, env=env, cwd=tmp_path)
    assert config.project == "cli-p"
    assert config.batch == "env-b"
    assert config.priority == 10
    assert config.format == "split_base64"
    assert config.expires_s == 12 * 3600


def test_run_table_and_relative_paths(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "x.toml"
    path.parent.mkdir()
    path.write_text('[run]\nout = "o"\nstore = "/abs/s"\ntag = ["a", "b"]\n[run.metadata]\nk = 1\n')
    config = load_config(env={}, config_path=path)
    assert config.out_dir == path.parent / "o"
    assert config.store_dir == Path("/abs/s")
    assert config.tags == ("a", "b")
    assert config.metadata == {"k": 1}


def test_store_kind_from_higher_layer_wins(tmp_path: Path) -> None:
    _toml(tmp_path, 'bucket = "from-file"\nprefix = "p"\n')
    config = load_config({"store_dir": tmp_path / "s"}, env={}, cwd=tmp_path)
    assert config.bucket is None
    assert config.store_dir == tmp_path / "s"
    assert config.prefix == "p"
    config = load_config({}, env={"SFS_KIT_BUCKET": "env-bucket"}, cwd=tmp_path)
    assert config.bucket == "env-bucket"


def test_one_layer_with_bucket_and_store_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"line sets both a bucket \('b'\) and a local store"):
        load_config({"bucket": "b", "store_dir": tmp_path}, env={}, cwd=tmp_path)


def test_api_key_from_env_and_named_variable(tmp_path: Path) -> None:
    config = load_config({}, env={"SCALE_API_KEY": "live_x", "SCALE_API_BASE_URL": "http://h"},
                         cwd=tmp_path)
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "live_x"
    assert "live_x" not in repr(config)
    assert config.api_base_url == "http://h"
    assert not config.is_dry_run
    _toml(tmp_path, 'api_key_env = "MY_KEY"\n')
    config = load_config({}, env={"MY_KEY": "k2"}, cwd=tmp_path)
    assert config.api_key is not None
    assert config.api_key.get_secret_value() == "k2"
    assert load_config({"dry_run": True}, env={"MY_KEY": "k2"}, cwd=tmp_path).is_dry_run


def test_env_strings_are_coerced(tmp_path: Path) -> None:
    env = {"SFS_KIT_PRIORITY": "30", "SFS_KIT_DRY_RUN": "true", "SFS_KIT_TAGS": "a, b",
           "SFS_KIT_VERIFY": "0", "SFS_KIT_OUT": str(tmp_path / "o")}
    config = load_config({}, env=env, cwd=tmp_path)
    got = (config.priority, config.dry_run, config.tags, config.verify)
    assert got == (30, True, ("a", "b"), False)
    assert config.out_dir == tmp_path / "o"


def test_config_pickles() -> None:
    config = RunConfig(project="p", api_key="secret", tags=("t",), metadata={"a": [1]})
    assert pickle.loads(pickle.dumps(config)) == config


@pytest.mark.parametrize(("text", "seconds"), [("7d", 604800), ("12h", 43200), ("90m", 5400),
                                               ("3600", 3600), ("1.5h", 5400), ("2w", 1209600)])
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration_s(text) == seconds


def test_bad_duration_raises() -> None:
    with pytest.raises(InputError, match=r"Setting 'expires' must be a duration.*got '7 days'"):
        parse_duration_s("7 days", name="expires")
    with pytest.raises(InputError, match=r"'x' must be a duration like '7d' or '3600', got True"):
        parse_duration_s(True, name="x")


def test_missing_explicit_config_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Config file '.*nope.toml' does not exist"):
        load_config(env={}, config_path=tmp_path / "nope.toml")


def test_unreadable_config_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Cannot read config file '.*': it is a folder"):
        load_config(env={}, config_path=tmp_path)


def test_invalid_toml_raises(tmp_path: Path) -> None:
    _toml(tmp_path, "project = \n")
    with pytest.raises(InputError, match=r"Config file '.*sfs-kit.toml' is not valid TOML"):
        load_config(env={}, cwd=tmp_path)


def test_unknown_key_raises(tmp_path: Path) -> None:
    _toml(tmp_path, 'projet = "x"\n')
    with pytest.raises(InputError, match=r"has unknown key 'projet'; known keys: .*project"):
        load_config(env={}, cwd=tmp_path)


def test_run_not_table_raises(tmp_path: Path) -> None:
    _toml(tmp_path, 'run = 3\n')
    with pytest.raises(InputError, match=r"key 'run' must be a table"):
        load_config(env={}, cwd=tmp_path)


def test_api_key_in_file_raises(tmp_path: Path) -> None:
    _toml(tmp_path, 'api_key = "live_secret"\n')
    with pytest.raises(InputError, match=r"must not hold 'api_key'") as info:
        load_config(env={}, cwd=tmp_path)
    assert "live_secret" not in str(info.value)


def test_api_key_env_not_string_raises(tmp_path: Path) -> None:
    _toml(tmp_path, 'api_key_env = 3\n')
    with pytest.raises(InputError, match=r"key 'api_key_env' must be a string, got 3"):
        load_config(env={}, cwd=tmp_path)


def test_invalid_value_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Run setting '--format' is invalid: .*got 'zip'"):
        load_config({"format": "zip"}, env={}, cwd=tmp_path)


def test_unknown_cli_setting_raises(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Unknown run settings \['bogus'\]"):
        load_config({"bogus": 1}, env={}, cwd=tmp_path)


def test_convert_from_a_deleted_working_directory_is_our_error(tmp_path: Path) -> None:
    """``sfs-kit convert`` run from a folder deleted under it says so, not a FileNotFoundError."""
    import subprocess
    import sys

    gone = tmp_path / "gone"
    gone.mkdir()
    script = ("import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
              "from sfs_kit.cli import main; sys.exit(main(['convert', '/nonexistent/capture', "
              "'-o', '/nonexistent/out.sfs']))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", script, str(gone)], capture_output=True,
                          check=False, text=True, env=env, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    assert "working directory no longer exists" in done.stderr
    assert done.returncode != 0
