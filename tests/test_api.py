"""``zoo.api`` is the whole public plugin API: every name it lists is there, importing it costs
``zoo list`` nothing heavy, and plugins written against the old README still load."""

from __future__ import annotations

import json
import subprocess
import types

import pytest

import zoo.api
from tests.conftest import PYTHON, make_registry
from zoo.core.errors import InvalidHyperParameter


def test_every_name_in_all_is_there_and_documented():
    for name in zoo.api.__all__:
        value = getattr(zoo.api, name)
        if callable(value) and not isinstance(value, type) and name != "hookimpl":
            assert (value.__doc__ or "").strip(), f"zoo.api.{name} has no docstring"
    assert sorted(zoo.api.__all__) == sorted(set(zoo.api.__all__))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_helper"):
        zoo.api.no_such_helper  # noqa: B018


def test_importing_the_api_imports_no_numpy_until_a_helper_needs_it():
    probe = (
        "import json, sys; import zoo.api; before = 'numpy' in sys.modules; "
        "from zoo.api import readable_folder; "
        "print(json.dumps([before, 'numpy' in sys.modules, 'tensorflow' in sys.modules]))"
    )
    out = subprocess.run([PYTHON, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == [False, True, False]


def test_a_plugin_written_against_the_old_readme_still_loads():
    """``from zoo import hookimpl``, ``zoo.specs`` and ``zoo.errors``, as the README showed."""
    from zoo import hookimpl
    from zoo.errors import InvalidHyperParameter as OldError
    from zoo.export import ExportJob
    from zoo.specs import ArchitectureSpec, HyperParameter

    assert OldError is InvalidHyperParameter and ExportJob is zoo.api.ExportJob
    plugin = types.ModuleType("old_style_plugin")

    @hookimpl
    def zoo_register_architectures(register):
        register(
            ArchitectureSpec(
                name="old-mlp",
                builder="old_style_plugin:build",
                family="classifier",
                task="classification",
                input_shape=(28, 28, 1),
                parts=("features", "head"),
                summary="an MLP from a plugin written before zoo.api",
                default_dataset="mnist",
                hyperparameters=(HyperParameter("hidden", 128, type=int, minimum=1),),
            )
        )

    plugin.zoo_register_architectures = zoo_register_architectures
    registry = make_registry(("old", plugin))
    assert registry.architecture("old-mlp").plugin == "old"
