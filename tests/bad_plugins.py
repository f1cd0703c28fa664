"""Plugins that each break the contract in one way, as a plugin author might: what they meet is
asserted in tests/test_plugin_kit.py."""

from __future__ import annotations

from tests.fake_plugins import arch
from zoo import hookimpl
from zoo.core.specs import ArchitectureSpec, DatasetSpec, ExporterSpec, HyperParameter


def ae(name: str, **overrides) -> ArchitectureSpec:
    """A dense autoencoder of 8x8 images (``tests.bad_models.build_ae``), ``overrides`` applied."""
    fields = dict(
        builder="tests.bad_models:build_ae",
        family="autoencoder",
        task="reconstruction",
        parts=("encoder", "decoder"),
        summary="a dense autoencoder of 8x8 images",
        parameters=580,
    )
    return arch(name, **{**fields, **overrides})


class BadPlugin:
    """Every wrong spec at once, each an item of its own, plus one good architecture."""

    @hookimpl
    def zoo_register_architectures(self, register):
        register(ae("good-ae"))
        register(ae("width-ae", hyperparameters=(HyperParameter("width", 0.0, minimum=0.25, maximum=8.0),)))
        register(ae("swapped-ae", parts=("decoder", "encoder")))
        register(ae("counted-ae", parameters=1000))
        register(ae("partless-ae", builder="tests.bad_models:build_ae_without_decoder"))
        register(ae("raising-ae", builder="tests.bad_models:build_raises"))
        register(ae("scaled-ae", builder="tests.bad_models:build_ae_scaled_after_decoder"))
        register(ae("dict-ae", builder="tests.bad_models:build_dict"))
        register(
            ae(
                "dropper-ae",
                builder="tests.bad_models:build_dropping_decoder",
                hyperparameters=(HyperParameter("width", 4, type=int, minimum=2, maximum=16),),
            )
        )
        register(
            ae(
                "two-class",
                builder="tests.fake_models:build_tiny",
                family="classifier",
                task="classification",
                parts=("features", "head"),
                parameters=130,
            )
        )
        register(ae("crossed-unet", builder="tests.bad_models:build_crossed_unet", parameters=None))
        register(ae("frozen-ae", builder="tests.bad_models:build_frozen_ae", parameters=None))
        width = HyperParameter("width", 4, type=int, minimum=2, maximum=16)
        bias = HyperParameter("bias", True, type=bool)
        register(ae("even-ae", builder="tests.bad_models:build_even_ae", hyperparameters=(width, bias)))
        register(ae("odd-fails-ae", builder="tests.bad_models:build_odd_fails_ae", hyperparameters=(width,)))

    @hookimpl
    def zoo_register_datasets(self, register):
        for name, loader in (
            ("rgb-data", "load_wrong_shape"),
            ("offline-data", "load_raises"),
            ("chatty-data", "load_chatty"),
            ("dict-data", "load_dict"),
        ):
            register(
                DatasetSpec(
                    name=name,
                    loader=f"tests.bad_models:{loader}",
                    summary="8x8 grey images",
                    image_shape=(8, 8, 1),
                    num_classes=2,
                )
            )

    @hookimpl
    def zoo_register_exporters(self, register):
        register(ExporterSpec("careless", "tests.bad_models:export_without_passed", "says nothing of checks"))
