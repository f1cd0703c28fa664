"""The example plugin's evaluator: how far the MLP's confidence can be trusted.

zoo already gives every classifier its accuracy per class and a confusion matrix. What it does
not say is whether a 99% softmax means 99%: this module measures that (the calibration error),
counts the mistakes made with confidence, and shows the surest of them. zoo calls ``evaluate``
after training and from ``zoo evaluate`` (the spec's ``evaluator="zoo_mlp.evaluate:evaluate"``);
imported only then, like the builder.
"""

from __future__ import annotations

import numpy as np

from zoo.api import Evaluation, image_grid

CONFIDENT = 0.9  # a mistake made with at least this probability is a confident one
BINS = 10  # confidence bins of the calibration error
SHOWN = 10  # confident mistakes in the figure


def evaluate(model, test, settings):
    """``model``: the trained Keras model; ``test``: a ``zoo.api.TestSplit`` (``x`` images in
    [0, 1], ``y`` labels, ``class_name(label)``); ``settings``: the run's config.json."""
    probabilities = model.predict(test.x, batch_size=512, verbose=0)  # one batched pass, no loop
    predicted = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    correct = predicted == test.y
    # Expected calibration error: in each confidence bin, |mean confidence - accuracy|, weighted
    # by the bin's share of the images.
    bins = np.minimum((confidence * BINS).astype(int), BINS - 1)
    gap = np.bincount(bins, confidence, BINS) - np.bincount(bins, correct, BINS)
    calibration_error = float(np.abs(gap).sum() / len(test.y))
    confident_mistakes = ~correct & (confidence >= CONFIDENT)

    surest = np.flatnonzero(~correct)
    surest = surest[np.argsort(-confidence[surest])][:SHOWN]
    figures = {}
    if len(surest):
        fig = image_grid(
            [("mistakes", test.x[surest])],
            f"{settings['architecture']}: its surest mistakes (true as predicted, confidence)",
        )
        # image_grid returns a matplotlib Figure, one axis per image: label each one.
        for ax, i in zip(fig.axes, surest, strict=True):
            truth, guess = test.class_name(int(test.y[i])), test.class_name(int(predicted[i]))
            ax.set_xlabel(f"{truth} as {guess}\n{confidence[i]:.0%}", fontsize=8)
        figures["confident_mistakes.png"] = fig

    return Evaluation(
        metrics={
            "mean_confidence": float(confidence.mean()),
            "calibration_error": calibration_error,
            "confident_mistakes": float(confident_mistakes.mean()),
        },
        figures=figures,
        lines=[
            f"Mean confidence {confidence.mean():.1%} against an accuracy of {correct.mean():.1%}; "
            f"expected calibration error {calibration_error:.3f} ({BINS} bins).",
            f"{int(confident_mistakes.sum()):,} of {len(test.y):,} test images "
            f"({confident_mistakes.mean():.1%}) are mistakes made with at least {CONFIDENT:.0%} confidence.",
        ],
        title="Confidence",
        headline="calibration_error",
    )
