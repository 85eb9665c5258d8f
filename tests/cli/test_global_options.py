"""The global options before and after the command (cli/options.py): the same options and variables
either way; after the command wins, then before it, then the environment variable, then the default."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from siglip_retriever.cli import main
from siglip_retriever.cli.info import info_command
from siglip_retriever.cli.options import (
    AFTER_COMMAND_RULE,
    ENV,
    GLOBAL_OPTIONS,
    GlobalOption,
    SettingsCommand,
    with_settings,
)
from siglip_retriever.cli.settings import Settings
from siglip_retriever.errors import ConfigurationError
from tests.helpers import run_cli

VARIABLES = [option.envvar for option in GLOBAL_OPTIONS if option.envvar]


@pytest.fixture(autouse=True)
def _no_global_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SIGLIP_RETRIEVER_* variable of the machine running the tests leaks into them."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def _probe() -> click.Group:
    """The real group (its options and callback) with one command that prints its settings."""

    @click.command("probe", cls=SettingsCommand)
    @with_settings
    def probe(settings: Settings) -> None:
        click.echo(json.dumps(asdict(settings)))

    return click.Group(
        "siglip-retriever", params=main.params, callback=main.callback, commands={"probe": probe}
    )


def _settings(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(_probe(), list(args), env=env)
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


VALUED = [option for option in GLOBAL_OPTIONS if not option.is_flag]
SAMPLES = {"port": ("9001", "9002", "9003"), "batch_size": ("7", "8", "9")}


@pytest.mark.parametrize("option", VALUED, ids=[option.name for option in VALUED])
def test_after_the_command_wins_then_before_then_the_variable_then_the_default(
    option: GlobalOption,
) -> None:
    env_value, before, after = SAMPLES.get(option.name, ("from-env", "typed-before", "typed-after"))
    flag = option.long_flag
    variable = {str(option.envvar): env_value}

    def typed(value: str) -> Any:
        return option.type.convert(value, None, None) if option.type is not None else value

    assert _settings("probe")[option.name] == option.default
    assert _settings("probe", env=variable)[option.name] == typed(env_value)
    # a value typed before the command is not overridden by the variable read again after it
    assert _settings(flag, before, "probe", env=variable)[option.name] == typed(before)
    assert _settings("probe", flag, after, env=variable)[option.name] == typed(after)
    assert _settings(flag, before, "probe", flag, after, env=variable)[option.name] == typed(after)
    assert _settings(flag, before, "probe", flag, after)[option.name] == typed(after)


def test_every_spelling_and_the_verbose_flag_work_after_the_command() -> None:
    assert _settings("probe")["verbose"] is False
    assert _settings("-v", "probe")["verbose"] is True
    assert _settings("probe", "-v")["verbose"] is True
    assert _settings("probe", "--verbose")["verbose"] is True
    got = _settings("probe", "-m", "demo", "--chroma-host", "chroma.local", "--chroma-port", "8001")
    assert (got["model"], got["host"], got["port"]) == ("demo", "chroma.local", 8001)
    mixed = _settings("--model", "demo", "--db", "one", "probe", "--db", "two", "--batch-size", "4")
    assert (mixed["model"], mixed["db"], mixed["batch_size"]) == ("demo", "two", 4)


def test_the_settings_are_the_global_options() -> None:
    assert [option.name for option in GLOBAL_OPTIONS] == [field.name for field in fields(Settings)]
    assert all(option.envvar == ENV + option.name.upper() for option in VALUED)


def test_index_photos_model_demo_db_dir(photos: Path, tmp_path: Path) -> None:
    """``siglip-retriever index PHOTOS --model demo --db DIR`` is ``--model demo --db DIR index PHOTOS``."""
    after = run_cli("index", str(photos), "--model", "demo", "--db", str(tmp_path / "after"))
    before = run_cli("--model", "demo", "--db", str(tmp_path / "before"), "index", str(photos))
    for result in (after, before):
        assert result.exit_code == 0, result.output
        assert "4 added, 0 updated, 0 skipped, 1 failed" in result.stdout
    infos = [
        json.loads(run_cli("info", "--json", "--db", str(tmp_path / name)).stdout)
        for name in ("after", "before")
    ]
    assert [(info["model"], info["images"]) for info in infos] == [("demo", 4), ("demo", 4)]
    assert infos[0]["location"] == str(tmp_path / "after")


def test_the_store_commands_answer_the_same_with_the_options_before_or_after(
    indexed: tuple[list[str], Path],
) -> None:
    options, photos = indexed
    red = str(photos / "red.png")
    commands = [
        ["search", "un cercle rouge", "--json"],
        ["similar", red, "-k", "2", "--json"],
        ["classify", red, "--labels", "red,blue", "--json"],
        ["info", "--json"],
        ["embed", "a red circle"],
    ]
    for command in commands:
        before = run_cli(*options, *command)
        assert before.exit_code == 0, before.output
        after = run_cli(*command, *options)
        split = run_cli(*options[:2], *command, *options[2:])  # --model before, --db and --device after
        assert _parsed(after.stdout) == _parsed(split.stdout) == _parsed(before.stdout), command


def _parsed(output: str) -> Any:
    """JSON output as data (metadata keys come in no set order); other output as it is."""
    return json.loads(output) if output.startswith("{") else output


def test_a_value_after_the_command_overrides_the_one_before_in_a_real_command(
    indexed: tuple[list[str], Path], tmp_path: Path
) -> None:
    options, _ = indexed
    nowhere = str(tmp_path / "nowhere")
    assert run_cli(*options, "info", "--db", nowhere).stderr.startswith(f"error: no store at {nowhere}")
    assert run_cli("--db", nowhere, "info", *options).exit_code == 0
    env = {ENV + "DB": nowhere}
    assert run_cli(*options, "info", env=env).exit_code == 0  # typed before: the variable is not read
    assert run_cli("info", *options, env=env).exit_code == 0
    assert "no store at " + nowhere in run_cli("info", env=env).stderr


def test_verbose_after_the_command_shows_the_traceback(tmp_path: Path) -> None:
    quiet = run_cli("search", "cat", "--db", str(tmp_path / "nowhere"))
    assert quiet.exit_code == 2
    assert quiet.stderr.startswith("error: no store at")
    loud = run_cli("search", "cat", "--db", str(tmp_path / "nowhere"), "-v")
    assert isinstance(loud.exception, ConfigurationError)


def test_a_command_run_on_its_own_takes_its_options_and_variables(tmp_path: Path) -> None:
    typed = CliRunner().invoke(info_command, ["--db", str(tmp_path / "typed")])
    assert typed.exit_code == 2
    assert f"no store at {tmp_path / 'typed'}" in typed.stderr
    from_env = CliRunner().invoke(info_command, [], env={ENV + "DB": str(tmp_path / "env")})
    assert f"no store at {tmp_path / 'env'}" in from_env.stderr


def test_compare_and_demo_take_the_options_they_use_after_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_compare(models: str, **kwargs: Any) -> Any:
        calls.append(kwargs)
        raise ConfigurationError("stopped by the test")

    def fake_demo(folder: Path, **kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        return {}

    monkeypatch.setattr("siglip_retriever.compare.compare_models", fake_compare)
    monkeypatch.setattr("siglip_retriever.demo.walkthrough.run_demo", fake_demo)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("image,caption\n")
    compared = run_cli(
        "--device", "cuda", "--batch-size", "64", "compare", "--models", "demo", "--pairs", str(pairs),
        "--out", str(tmp_path), "--device", "cpu", "--dtype", "float32", "--batch-size", "3",
    )  # fmt: skip
    assert compared.stderr == "error: stopped by the test\n"
    assert {key: calls[-1][key] for key in ("device", "dtype", "batch_size", "quiet")} == {
        "device": "cpu", "dtype": "float32", "batch_size": 3, "quiet": True,
    }  # fmt: skip
    demo = run_cli("--device", "mps", "demo", "--out", str(tmp_path), "--json", env={ENV + "DEVICE": "cuda"})
    assert demo.exit_code == 0, demo.output
    assert calls[-1]["device"] == "mps"
    assert run_cli("demo", "--out", str(tmp_path), "--device", "cpu", "--json").exit_code == 0
    assert calls[-1]["device"] == "cpu"


def test_an_option_a_command_does_not_use_is_refused_after_it_with_the_ones_it_does(tmp_path: Path) -> None:
    demo = run_cli("demo", "--model", "demo")
    assert demo.exit_code == 2
    assert (
        "demo does not use --model; the global options it takes after it: --device, --verbose" in demo.stderr
    )
    for flag in ("--db", "--host", "--chroma-host"):
        compare = run_cli("compare", "--models", "demo", flag, str(tmp_path))
        assert compare.exit_code == 2
        assert f"compare does not use {flag.replace('chroma-', '')};" in compare.stderr
    assert run_cli("presets", "--db", str(tmp_path)).exit_code == 2
    assert run_cli("--model", "demo", "--db", str(tmp_path), "presets").exit_code == 0  # before: as ever


def test_help_states_the_rule_and_lists_each_commands_global_options() -> None:
    def text(*args: str) -> str:
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    top = text("--help")
    assert "Given both ways, the one after the command wins" in top
    assert "env var: SIGLIP_RETRIEVER_BATCH_SIZE" in top
    for name in main.commands:
        shown = text(name, "--help")
        if name == "presets":
            assert "Global options" not in shown
            continue
        assert "Global options: " + AFTER_COMMAND_RULE in shown, name
        assert "--device TEXT" in shown, name
    assert "--port, --chroma-port INTEGER RANGE" in text("index", "--help")
    assert "--model" not in text("demo", "--help")
