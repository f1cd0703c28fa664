"""Keras builders for the autoencoders."""

from __future__ import annotations

import keras
from keras import layers


def build_conv_ae(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    filters: int = 16,
    activation: str = "relu",
) -> keras.Model:
    """Convolutional autoencoder for 28x28x1 images.

    Encoder: Conv2D(16, 3)-MaxPool-Conv2D(32, 3)-MaxPool-Conv2D(64, 3)-MaxPool, "same" padding,
    so 28x28x1 -> 14 -> 7 -> a 4x4x64 code. Decoder, mirrored: Conv2DTranspose(64, 3, stride 2)
    -> 8x8, cropped to 7x7 -> Conv2DTranspose(32) -> 14 -> Conv2DTranspose(16) -> 28 ->
    Conv2D(1, 3) with a sigmoid, so the reconstruction lies in [0, 1] like the input.

    Parts: ``encoder`` (image -> code) and ``decoder`` (code -> reconstruction).

    Reference:
        J. Masci, U. Meier, D. Ciresan, J. Schmidhuber. Stacked convolutional auto-encoders for
        hierarchical feature extraction. ICANN 2011.
    """
    widths = (filters, filters * 2, filters * 4)
    image = keras.Input(input_shape, name="image")
    x = image
    for i, width in enumerate(widths, start=1):
        x = layers.Conv2D(width, 3, padding="same", activation=activation, name=f"conv{i}")(x)
        x = layers.MaxPooling2D(2, padding="same", name=f"pool{i}")(x)
    encoder = keras.Model(image, x, name="encoder")

    code = keras.Input(encoder.output.shape[1:], name="code")
    y = code
    for i, width in enumerate(reversed(widths), start=1):
        y = layers.Conv2DTranspose(
            width, 3, strides=2, padding="same", activation=activation, name=f"deconv{i}"
        )(y)
        if i == 1:
            # 4x4 -> 8x8 overshoots the encoder's 7x7 (28 / 2 / 2): drop the last row and column.
            y = layers.Cropping2D(((0, 1), (0, 1)), name="crop")(y)
    y = layers.Conv2D(input_shape[-1], 3, padding="same", activation="sigmoid", name="output")(y)
    decoder = keras.Model(code, y, name="decoder")

    inputs = keras.Input(input_shape, name="image")
    return keras.Model(inputs, decoder(encoder(inputs)), name="conv_ae")


def _dense_decoder(code_size: int, widths: tuple[int, ...], input_shape, activation: str) -> keras.Model:
    """Dense layers of ``widths`` (may be empty), then back to the image with a sigmoid."""
    code = keras.Input((code_size,), name="code")
    y = code
    for i, width in enumerate(widths, start=1):
        y = layers.Dense(width, activation=activation, name=f"hidden{i}")(y)
    pixels = 1
    for d in input_shape:
        pixels *= d
    y = layers.Dense(pixels, activation="sigmoid", name="output")(y)
    y = layers.Reshape(input_shape, name="reshape")(y)
    return keras.Model(code, y, name="decoder")


def _dense_encoder(
    input_shape, widths: tuple[int, ...], activation: str, code_activation: str
) -> keras.Model:
    image = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    for i, width in enumerate(widths[:-1], start=1):
        x = layers.Dense(width, activation=activation, name=f"hidden{i}")(x)
    x = layers.Dense(widths[-1], activation=code_activation, name="code")(x)
    return keras.Model(image, x, name="encoder")


def _assemble(input_shape, encoder: keras.Model, decoder: keras.Model, name: str, before=None) -> keras.Model:
    inputs = keras.Input(input_shape, name="image")
    x = before(inputs) if before is not None else inputs
    return keras.Model(inputs, decoder(encoder(x)), name=name)


def build_dense_ae(
    input_shape: tuple[int, int, int] = (28, 28, 1), code_size: int = 32, activation: str = "relu"
) -> keras.Model:
    """Undercomplete dense autoencoder: 784 -> ``code_size`` -> 784.

    The code is smaller than the input, so the network must compress: with a linear code and
    squared error it would learn the principal subspace; the non-linear code does better.

    Parts: ``encoder`` (image -> code) and ``decoder`` (code -> reconstruction).

    Reference:
        G. E. Hinton, R. R. Salakhutdinov. Reducing the dimensionality of data with neural
        networks. Science 313(5786):504-507, 2006.
    """
    encoder = _dense_encoder(input_shape, (code_size,), activation, activation)
    decoder = _dense_decoder(code_size, (), input_shape, activation)
    return _assemble(input_shape, encoder, decoder, "dense_ae")


def build_stacked_ae(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    units: str = "256,64",
    activation: str = "relu",
    pretrain_epochs: int = 0,
) -> keras.Model:
    """Stacked (deep) autoencoder: 784 -> 256 -> 64 and the mirrored decoder 64 -> 256 -> 784.

    ``units`` lists the encoder's layer widths, the last one being the code.
    ``pretrain_epochs`` does not change the graph: it is read by ``pretrain_stacked_ae``,
    which the trainer runs first (greedy layer-wise pre-training, as in the 2006 papers).

    Parts: ``encoder`` (image -> code) and ``decoder`` (code -> reconstruction).

    Reference:
        P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio, P.-A. Manzagol. Stacked denoising
        autoencoders. JMLR 11:3371-3408, 2010.
    """
    widths = parse_units(units)
    encoder = _dense_encoder(input_shape, widths, activation, activation)
    decoder = _dense_decoder(widths[-1], tuple(reversed(widths[:-1])), input_shape, activation)
    return _assemble(input_shape, encoder, decoder, "stacked_ae")


def parse_units(units: str) -> tuple[int, ...]:
    """'256,64' -> (256, 64); anything else is a clear error naming the hyper-parameter."""
    from zoo.api import InvalidHyperParameter

    try:
        widths = tuple(int(u) for u in str(units).split(","))
    except ValueError:
        widths = ()
    if not widths or any(w < 1 or w > 65536 for w in widths):
        raise InvalidHyperParameter(
            f"hyper-parameter 'units' must be comma-separated layer widths such as 256,64, got {units!r}"
        )
    return widths


@keras.saving.register_keras_serializable(package="zoo_autoencoders")
class Corruption(layers.Layer):
    """Corrupts its input while training and passes it through unchanged otherwise.

    ``gaussian``: adds N(0, ``amount``^2) noise and clips to [0, 1]; ``masking``: sets a
    fraction ``amount`` of the pixels to 0. At inference (and so in an exported graph) it is
    the identity.
    """

    def __init__(self, kind: str = "gaussian", amount: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.kind, self.amount, self.seed = kind, float(amount), seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training:
            return x
        if self.kind == "gaussian":
            noise = keras.random.normal(keras.ops.shape(x), stddev=self.amount, seed=self.generator)
            return keras.ops.clip(x + noise, 0.0, 1.0)
        keep = keras.random.uniform(keras.ops.shape(x), seed=self.generator) >= self.amount
        return keras.ops.where(keep, x, keras.ops.zeros_like(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "amount": self.amount, "seed": self.seed}


def build_denoising_ae(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    code_size: int = 64,
    noise: str = "gaussian",
    amount: float = 0.5,
    activation: str = "relu",
) -> keras.Model:
    """Denoising autoencoder: reconstructs the clean image from a corrupted one.

    The corruption (Gaussian noise with standard deviation ``amount``, clipped to [0, 1], or
    masking noise zeroing a fraction ``amount`` of the pixels) is a layer in front of the
    encoder that acts only while training, so the exported model and its parts are the plain
    encoder and decoder.

    Parts: ``encoder`` (image -> code) and ``decoder`` (code -> reconstruction).

    Reference:
        P. Vincent, H. Larochelle, Y. Bengio, P.-A. Manzagol. Extracting and composing robust
        features with denoising autoencoders. ICML 2008.
    """
    encoder = _dense_encoder(input_shape, (256, code_size), activation, activation)
    decoder = _dense_decoder(code_size, (256,), input_shape, activation)
    corrupt = Corruption(noise, amount, name="corruption")
    return _assemble(input_shape, encoder, decoder, "denoising_ae", before=corrupt)


@keras.saving.register_keras_serializable(package="zoo_autoencoders")
class SparsityPenalty(layers.Layer):
    """Adds a sparsity penalty on the activations passing through (which it leaves unchanged).

    ``kl``: ``weight`` * sum over units of KL(rho || mean activation of the unit over the
    batch), for activations in (0, 1); ``l1``: ``weight`` * mean over the batch of the sum of
    absolute activations.
    """

    def __init__(self, kind: str = "kl", rho: float = 0.05, weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.kind, self.rho, self.weight = kind, float(rho), float(weight)

    def call(self, h):
        ops = keras.ops
        if self.kind == "kl":
            rho_hat = ops.clip(ops.mean(h, axis=0), 1e-7, 1 - 1e-7)
            rho = self.rho
            kl = rho * ops.log(rho / rho_hat) + (1 - rho) * ops.log((1 - rho) / (1 - rho_hat))
            self.add_loss(self.weight * ops.sum(kl))
        else:
            self.add_loss(self.weight * ops.mean(ops.sum(ops.abs(h), axis=-1)))
        return h

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "rho": self.rho, "weight": self.weight}


def build_sparse_ae(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    hidden: int = 1024,
    penalty: str = "kl",
    rho: float = 0.05,
    weight: float = 0.1,
) -> keras.Model:
    """Sparse autoencoder: an overcomplete sigmoid hidden layer kept sparse by a penalty.

    With more hidden units than pixels, nothing forces compression except the penalty: the KL
    divergence between a target activation ``rho`` and each unit's mean activation, or an L1
    penalty on the activations.

    Parts: ``encoder`` (image -> hidden activations) and ``decoder`` (-> reconstruction).

    Reference:
        A. Ng. Sparse autoencoder. CS294A lecture notes, Stanford University, 2011.
    """
    image = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    x = layers.Dense(hidden, activation="sigmoid", name="code")(x)
    x = SparsityPenalty(penalty, rho, weight, name="sparsity")(x)
    encoder = keras.Model(image, x, name="encoder")
    decoder = _dense_decoder(hidden, (), input_shape, "sigmoid")
    return _assemble(input_shape, encoder, decoder, "sparse_ae")


def pretrain_stacked_ae(
    model: keras.Model,
    x,
    *,
    hyperparameters: dict,
    batch_size: int,
    learning_rate: float,
    log=lambda message: None,
) -> dict:
    """Greedy layer-wise pre-training of a stacked autoencoder, before end-to-end fine-tuning.

    Layer k of the encoder and its mirror in the decoder are trained as a shallow autoencoder
    on the codes of layers 1..k-1 (already trained, frozen by construction since only layer k
    and its mirror are in the small model), for ``pretrain_epochs`` epochs each: the first pair
    reconstructs the pixels (binary cross-entropy), the later ones the previous codes (squared
    error). The layers are the full model's own, so their weights carry over.

    Reference:
        Y. Bengio, P. Lamblin, D. Popovici, H. Larochelle. Greedy layer-wise training of deep
        networks. NIPS 2006.
    """
    epochs = int(hyperparameters.get("pretrain_epochs", 0))
    if epochs <= 0:
        return {}
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    downs = [layer for layer in encoder.layers if isinstance(layer, layers.Dense)]
    ups = [layer for layer in decoder.layers if isinstance(layer, layers.Dense)][::-1]
    h = keras.ops.convert_to_numpy(keras.ops.reshape(x, (len(x), -1)))
    losses = {}
    for k, (down, up) in enumerate(zip(downs, ups, strict=True), start=1):
        inputs = keras.Input((h.shape[1],), name=f"stage{k}_input")
        shallow = keras.Model(inputs, up(down(inputs)), name=f"pretrain_stage{k}")
        loss = "binary_crossentropy" if k == 1 else "mse"
        shallow.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
        history = shallow.fit(h, h, epochs=epochs, batch_size=batch_size, verbose=0)
        final = float(history.history["loss"][-1])
        log(f"pre-training {down.name} + {up.name}: {epochs} epochs, {loss} {final:.5f}")
        losses[f"pretrain_{down.name}_{loss}"] = final
        h = keras.ops.convert_to_numpy(down(h))
    return losses
