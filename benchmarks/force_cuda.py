"""A pytest plugin for a GPU machine: the encoder tests, with every encoder on CUDA.

    PYTHONPATH=src:benchmarks python -m pytest tests/encoding/test_encoder.py -p force_cuda -o addopts=""

Encoders that ask for ``device="cpu"`` or ``"auto"`` get ``"cuda"``, and ``dtype="auto"`` means
float32, so the tests' tolerances (set for float32) still apply; the float16 default of
``device="auto"`` is covered by ``tests/encoding/test_loading.py::test_auto_device_path``.
``test_same_options_load_once`` (in tests/encoding/test_loading.py) looks for a ``"cpu"`` cache key
and fails under this plugin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _encoders_on_cuda() -> Iterator[None]:
    from siglip_retriever.encoding import encoder as module

    real_device, real_dtype = module.resolve_device, module.resolve_dtype

    def device(name: str) -> str:
        return real_device("cuda" if name in ("cpu", "auto") else name)

    def dtype(name: str, on: str) -> str:
        return real_dtype("float32" if name == "auto" else name, on)

    module.resolve_device, module.resolve_dtype = device, dtype
    try:
        yield
    finally:
        module.resolve_device, module.resolve_dtype = real_device, real_dtype
