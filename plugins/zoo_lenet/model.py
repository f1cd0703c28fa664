"""Keras builder for LeNet-5."""

from __future__ import annotations

import keras
from keras import layers


def build(
    input_shape: tuple[int, int, int] = (32, 32, 1),
    activation: str = "tanh",
    pooling: str = "average",
    num_classes: int = 10,
) -> keras.Model:
    """LeNet-5.

    Input pixels in [0, 1] are mapped to [-0.1, 1.175] as in the paper. C1: 6 convolutions
    5x5 -> S2: 2x2 subsampling -> C3: 16 convolutions 5x5 -> S4 -> C5: 120 convolutions 5x5
    (1x1 output on a 32x32 input) -> F6: 84 units -> output: ``num_classes`` softmax units.
    As in the paper's 60,000-parameter network, except that C3 connects to all six S2 maps
    (61,706 parameters with 10 classes), subsampling has no trainable coefficient, and the
    output is softmax instead of Euclidean RBF units.

    Parts: ``features`` (image -> the 84 F6 activations) and ``head`` (F6 -> class
    probabilities).

    Reference:
        Y. LeCun, L. Bottou, Y. Bengio, P. Haffner. Gradient-based learning applied to document
        recognition. Proceedings of the IEEE 86(11):2278-2324, 1998.
    """
    pool = layers.AveragePooling2D if pooling == "average" else layers.MaxPooling2D
    # The paper draws initial weights uniformly within a range inversely related to the fan-in;
    # Keras' LeCun uniform initializer does so (limit sqrt(3 / fan_in)).
    init = "lecun_uniform"
    image = keras.Input(input_shape, name="image")
    # As in the paper: background (0) -> -0.1, foreground (1) -> 1.175, so that the input has a
    # mean of about 0 and a variance of about 1, which speeds up learning. Written as a fixed
    # 1x1 convolution rather than Rescaling: ONNX Runtime's CPU Mul/Add on an NHWC tensor with
    # one channel took 1 ms per op at batch 32 (1.31.1, 2-core EPYC), three times the network.
    x = layers.Conv2D(
        1,
        1,
        kernel_initializer=keras.initializers.Constant(1.275),
        bias_initializer=keras.initializers.Constant(-0.1),
        trainable=False,
        name="normalize",
    )(image)
    x = layers.Conv2D(6, 5, activation=activation, kernel_initializer=init, name="c1")(x)
    x = pool(2, name="s2")(x)
    x = layers.Conv2D(16, 5, activation=activation, kernel_initializer=init, name="c3")(x)
    x = pool(2, name="s4")(x)
    x = layers.Conv2D(120, 5, activation=activation, kernel_initializer=init, name="c5")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(84, activation=activation, kernel_initializer=init, name="f6")(x)
    features = keras.Model(image, x, name="features")

    code = keras.Input((84,), name="f6_activations")
    probabilities = layers.Dense(num_classes, activation="softmax", kernel_initializer=init, name="output")(
        code
    )
    head = keras.Model(code, probabilities, name="head")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, head(features(inputs)), name="lenet5")
