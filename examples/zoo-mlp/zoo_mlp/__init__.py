"""An example zoo plugin: registers the ``mlp`` architecture (the model is in model.py, its
evaluation, how far its confidence can be trusted, in evaluate.py)."""

from __future__ import annotations

from zoo.api import ArchitectureSpec, HyperParameter, hookimpl


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="mlp",
            builder="zoo_mlp.model:build",
            evaluator="zoo_mlp.evaluate:evaluate",
            family="classifier",
            task="classification",
            input_shape=(28, 28, 1),
            parts=("features", "head"),
            summary="multilayer perceptron: 784 -> hidden (relu) -> 10 softmax (example plugin)",
            default_dataset="mnist",
            hyperparameters=(
                HyperParameter("hidden", 128, "hidden units", type=int, minimum=1, maximum=65536),
            ),
            reference="D. E. Rumelhart, G. E. Hinton, R. J. Williams. Learning representations "
            "by back-propagating errors. Nature 323:533-536, 1986",
            epochs=3,
            batch_size=64,
            parameters=101_770,
        )
    )
