"""Small plugins for the host's tests: each a class whose methods are hook implementations."""

from __future__ import annotations

from zoo import hookimpl
from zoo.core.specs import ArchitectureSpec, DatasetSpec


def arch(name: str, **overrides) -> ArchitectureSpec:
    fields = dict(
        name=name,
        builder="tests.fake_models:build_tiny",
        family="classifier",
        task="classification",
        input_shape=(8, 8, 1),
        parts=("features", "head"),
        summary=f"{name} for tests",
        default_dataset="synthetic",
    )
    fields.update(overrides)
    return ArchitectureSpec(**fields)


class GoodPlugin:
    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch("good-net"))

    @hookimpl
    def zoo_register_datasets(self, register):
        register(
            DatasetSpec(
                name="good-data",
                loader="tests.fake_models:load",
                summary="x",
                image_shape=(8, 8, 1),
                num_classes=2,
            )
        )


class RaisingPlugin:
    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch("half-registered"))
        raise RuntimeError("boom while registering")


class DuplicatePlugin:
    @hookimpl
    def zoo_register_architectures(self, register):
        register(arch("lenet5"))
        register(arch("unique-net"))


class MisspelledPlugin:
    @hookimpl
    def zoo_register_architecture(self, register):  # no such hook: missing the 's'
        register(arch("never"))


class WrongTypePlugin:
    @hookimpl
    def zoo_register_architectures(self, register):
        register({"name": "a dict, not a spec"})
