"""Package-level promises: cheap import, explicit API, a CLI, presets, offline tests."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement

import siglip_retriever
from siglip_retriever import errors
from siglip_retriever.cli import main
from siglip_retriever.encoding.presets import PRESETS, resolve_model


def _run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return result.stdout.strip()


def test_import_does_not_load_heavy_libraries() -> None:
    loaded = _run_python(
        "import sys, siglip_retriever, siglip_retriever.cli, siglip_retriever.encoding.presets; "
        "heavy = ['torch', 'transformers', 'chromadb', 'langchain_core', 'llama_index', 'ray']; "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    assert loaded == ""


def test_lazy_names_resolve_and_all_is_complete() -> None:
    for name in siglip_retriever.__all__:
        assert getattr(siglip_retriever, name) is not None, name
    public = {
        name
        for name, value in vars(siglip_retriever).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public -= {"annotations", "TYPE_CHECKING", "lazy_exports"}
    assert public <= set(siglip_retriever.__all__)
    with pytest.raises(AttributeError):
        _ = siglip_retriever.no_such_name  # type: ignore[attr-defined]


def test_exception_tree() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.SiglipRetrieverError)
    assert issubclass(errors.InputTypeError, TypeError)
    assert issubclass(errors.ConfigurationError, ValueError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    message = str(errors.MissingDependencyError("fastapi", "app", "The web app"))
    assert "pip install 'siglip-retriever[app]'" in message


def test_cli_help_and_version_are_fast_and_torch_free() -> None:
    out = _run_python(
        "import sys; from click.testing import CliRunner; from siglip_retriever.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); "
        "print(r.exit_code, 'torch' in sys.modules, 'Usage' in r.output)"
    )
    assert out == "0 False True"
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert siglip_retriever.__version__ in result.output


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("siglip-retriever")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "presets" in result.stdout


def test_cli_presets_json() -> None:
    result = CliRunner().invoke(main, ["presets", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {row["name"] for row in rows} == set(PRESETS)


def test_cli_embed_and_user_errors(tiny_siglip_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--model", str(tiny_siglip_dir), "embed", "un cercle rouge"])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["text"] == "un cercle rouge"
    assert len(line["vector"]) == 32
    bad = CliRunner().invoke(main, ["--model", "not a model", "embed", "x"])
    assert bad.exit_code == 1
    assert "error: unknown model 'not a model'" in bad.output
    assert "Traceback" not in bad.output


def test_resolve_model() -> None:
    assert resolve_model(None).name == "multilingual"
    assert resolve_model("demo").is_local or not Path(PRESETS["demo"].model_id).exists()
    assert resolve_model("google/siglip2-base-patch16-224").family == "siglip2"
    assert resolve_model("openai/clip-vit-large-patch14").score_kind == "softmax"
    for bad in ("", "./missing/dir", "a/b/c", "no spaces/allowed here"):
        with pytest.raises(errors.UnknownPresetError):
            resolve_model(bad)


def test_tests_cannot_reach_the_network() -> None:
    with socket.socket() as sock, pytest.raises(RuntimeError, match="tried to"):
        sock.connect(("93.184.216.34", 80))
    with pytest.raises(RuntimeError, match="offline"):
        socket.getaddrinfo("huggingface.co", 443)


ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_py_typed_and_a_lean_core(tmp_path: Path) -> None:
    """The built wheel carries the PEP 561 marker, and its core requirements pull no test or tool."""
    assert (ROOT / "src" / "siglip_retriever" / "py.typed").is_file()
    build = [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "--quiet", "--wheel-dir", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (wheel,) = tmp_path.glob("siglip_retriever-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    assert "siglip_retriever/py.typed" in names
    assert "siglip_retriever/demo/model/config.json" in names
    requirements = [
        Requirement(line.split(":", 1)[1])
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:")
    ]
    core_names = {req.name.lower() for req in requirements if req.marker is None}
    assert {"torch", "transformers", "chromadb", "pillow", "pillow-heif"} <= core_names
    assert not core_names & {"ray", "playwright", "pytest", "pandas", "pyarrow", "mypy", "ruff", "hatchling"}


def test_core_dependencies_read_avif_and_heic() -> None:
    """Pillow reads and writes AVIF itself; pillow-heif's opener does HEIC (iPhone photos)."""
    import pillow_heif
    from PIL import Image, features

    assert features.check("avif")
    pillow_heif.register_heif_opener()
    for fmt, brand in (("AVIF", b"ftypavif"), ("HEIF", b"ftypheic")):
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (255, 0, 0)).save(buffer, format=fmt, quality=90)
        assert buffer.getvalue()[4:12] == brand
        with Image.open(io.BytesIO(buffer.getvalue())) as image:
            red, green, blue = image.convert("RGB").getpixel((16, 16))
        assert image.size == (32, 32)
        assert red > 240 and green < 15 and blue < 15, fmt
