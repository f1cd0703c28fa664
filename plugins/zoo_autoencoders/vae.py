"""Keras builder for the variational autoencoder."""

from __future__ import annotations

import math

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="zoo_autoencoders")
class LatentSample(layers.Layer):
    """Takes ``[mean, log_var]`` and hands a latent vector to the decoder.

    While training it draws z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) (the
    reparameterization trick, so gradients reach the encoder); otherwise it returns the mean, so
    inference, evaluation and the exported graph are deterministic. It adds
    ``beta`` * KL(q(z|x) || N(0, I)) / ``pixels`` to the loss, which with a per-pixel binary
    cross-entropy makes the training loss the negative ELBO per pixel, and tracks the KL term
    in nats per image as the metric ``kl``.
    """

    def __init__(self, beta: float = 1.0, pixels: int = 784, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.beta, self.pixels, self.seed = float(beta), int(pixels), seed
        self.generator = keras.random.SeedGenerator(seed)
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def call(self, inputs, training=False):
        mean, log_var = inputs
        kl = -0.5 * ops.mean(ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1))
        self.add_loss(self.beta * kl / self.pixels)
        self.kl_tracker.update_state(kl)
        if not training:
            return mean
        eps = keras.random.normal(ops.shape(mean), seed=self.generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "pixels": self.pixels, "seed": self.seed}


def build_vae(
    input_shape: tuple[int, int, int] = (28, 28, 1),
    latent_dim: int = 16,
    hidden: int = 512,
    beta: float = 1.0,
) -> keras.Model:
    """Variational autoencoder with dense encoder and decoder (784-512-16, 16-512-784).

    The encoder outputs the mean and the log-variance of a diagonal Gaussian q(z|x); a
    ``LatentSample`` layer between the parts samples from it while training and passes the
    mean otherwise. The decoder maps a latent vector to Bernoulli pixel probabilities, so it
    generates images from z ~ N(0, I). Trained with binary cross-entropy plus
    ``beta`` * KL per pixel (beta = 1: the negative ELBO; beta > 1: beta-VAE).

    Parts: ``encoder`` (image -> [mean, log_var]; the mean is its first output and is what
    the decoder takes at inference) and ``decoder`` (latent vector -> image).

    Reference:
        D. P. Kingma, M. Welling. Auto-encoding variational Bayes. ICLR 2014.
    """
    image = keras.Input(input_shape, name="image")
    x = layers.Flatten(name="flatten")(image)
    x = layers.Dense(hidden, activation="relu", name="hidden")(x)
    mean = layers.Dense(latent_dim, name="mean")(x)
    log_var = layers.Dense(latent_dim, name="log_var")(x)
    encoder = keras.Model(image, [mean, log_var], name="encoder")

    latent = keras.Input((latent_dim,), name="latent")
    y = layers.Dense(hidden, activation="relu", name="hidden")(latent)
    y = layers.Dense(math.prod(input_shape), activation="sigmoid", name="output")(y)
    y = layers.Reshape(input_shape, name="reshape")(y)
    decoder = keras.Model(latent, y, name="decoder")

    inputs = keras.Input(input_shape, name="image")
    z = LatentSample(beta, math.prod(input_shape), name="sample")(encoder(inputs))
    return keras.Model(inputs, decoder(z), name="vae")
