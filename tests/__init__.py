"""The test suite, one folder per layer of the package (see docs/architecture.md).

``tests/helpers.py`` holds what several tests share; pytest rewrites its asserts as it does a test
module's, so that a failing helper shows the values it compared.
"""

import pytest

pytest.register_assert_rewrite("tests.helpers")
