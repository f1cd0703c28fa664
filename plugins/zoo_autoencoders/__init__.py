"""The lecture's autoencoders as a zoo plugin: specs only, the Keras code is in model.py."""

from __future__ import annotations

from zoo.api import ArchitectureSpec, HyperParameter, hookimpl


def _autoencoder(name: str, builder: str, summary: str, reference: str, *params, **extra):
    """An autoencoder on 28x28x1 images, split into encoder and decoder, trained on MNIST."""
    defaults = dict(epochs=10, batch_size=128, family="autoencoder")
    defaults.update(extra)
    module = "vae" if builder == "build_vae" else "model"
    return ArchitectureSpec(
        name=name,
        builder=f"zoo_autoencoders.{module}:{builder}",
        task="reconstruction",
        input_shape=(28, 28, 1),
        parts=("encoder", "decoder"),
        summary=summary,
        default_dataset="mnist",
        hyperparameters=params,
        reference=reference,
        **defaults,
    )


ACTIVATION = HyperParameter(
    "activation",
    "relu",
    "activation of the hidden layers",
    type=str,
    choices=("relu", "elu", "tanh", "sigmoid"),
)
VINCENT_2008 = (
    "P. Vincent, H. Larochelle, Y. Bengio, P.-A. Manzagol. Extracting and composing robust "
    "features with denoising autoencoders. ICML 2008"
)


@hookimpl
def zoo_register_architectures(register):
    register(
        ArchitectureSpec(
            name="conv-ae",
            builder="zoo_autoencoders.model:build_conv_ae",
            family="autoencoder",
            task="reconstruction",
            input_shape=(28, 28, 1),
            parts=("encoder", "decoder"),
            summary="convolutional autoencoder: Conv16-Pool-Conv32-Pool-Conv64-Pool, mirrored",
            default_dataset="mnist",
            hyperparameters=(
                HyperParameter(
                    "filters",
                    16,
                    "filters of the first convolution; doubled at each stage",
                    type=int,
                    minimum=1,
                    maximum=1024,
                ),
                HyperParameter(
                    "activation",
                    "relu",
                    "activation of the hidden convolutions",
                    type=str,
                    choices=("relu", "elu", "tanh", "sigmoid"),
                ),
            ),
            reference=(
                "J. Masci, U. Meier, D. Ciresan, J. Schmidhuber. Stacked convolutional "
                "auto-encoders for hierarchical feature extraction. ICANN 2011"
            ),
            epochs=5,
            batch_size=128,
            parameters=83_457,
        )
    )
    register(
        _autoencoder(
            "dense-ae",
            "build_dense_ae",
            "undercomplete dense autoencoder: 784 -> 32 -> 784",
            "G. E. Hinton, R. R. Salakhutdinov. Reducing the dimensionality of data with neural "
            "networks. Science 313(5786):504-507, 2006",
            HyperParameter(
                "code_size", 32, "units of the code (hidden) layer", type=int, minimum=1, maximum=65536
            ),
            ACTIVATION,
            parameters=50_992,
        )
    )
    register(
        _autoencoder(
            "sparse-ae",
            "build_sparse_ae",
            "sparse autoencoder: overcomplete 1024-unit sigmoid code kept sparse (KL or L1)",
            "A. Ng. Sparse autoencoder. CS294A lecture notes, Stanford University, 2011",
            HyperParameter("hidden", 1024, "units of the hidden layer", type=int, minimum=1, maximum=65536),
            HyperParameter(
                "penalty",
                "kl",
                "kl: KL divergence to rho; l1: L1 on activations",
                type=str,
                choices=("kl", "l1"),
            ),
            HyperParameter(
                "rho", 0.05, "target mean activation (kl)", type=float, minimum=1e-4, maximum=0.9999
            ),
            HyperParameter(
                "weight", 0.1, "weight of the penalty in the loss", type=float, minimum=0.0, maximum=1e4
            ),
            parameters=1_607_440,
            evaluator="zoo_autoencoders.evaluate:evaluate_sparse",
        )
    )
    register(
        _autoencoder(
            "denoising-ae",
            "build_denoising_ae",
            "denoising autoencoder: corrupted input (training only), clean target; 784-256-64",
            VINCENT_2008,
            HyperParameter("code_size", 64, "units of the code layer", type=int, minimum=1, maximum=65536),
            HyperParameter(
                "noise",
                "gaussian",
                "gaussian (clipped to [0, 1]) or masking",
                type=str,
                choices=("gaussian", "masking"),
            ),
            HyperParameter(
                "amount", 0.5, "Gaussian sigma, or the masked fraction", type=float, minimum=0.0, maximum=1.0
            ),
            ACTIVATION,
            parameters=435_536,
            evaluator="zoo_autoencoders.evaluate:evaluate_denoising",
        )
    )
    register(
        _autoencoder(
            "stacked-ae",
            "build_stacked_ae",
            "stacked (deep) autoencoder: 784-256-64 and the mirrored decoder",
            "P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio, P.-A. Manzagol. Stacked denoising "
            "autoencoders. JMLR 11:3371-3408, 2010",
            HyperParameter("units", "256,64", "encoder layer widths, the last is the code", type=str),
            ACTIVATION,
            HyperParameter(
                "pretrain_epochs",
                0,
                "epochs of greedy layer-wise pre-training per layer before fine-tuning (0: none)",
                type=int,
                minimum=0,
                maximum=1000,
            ),
            parameters=435_536,
            pretrainer="zoo_autoencoders.model:pretrain_stacked_ae",
        )
    )
    register(
        _autoencoder(
            "vae",
            "build_vae",
            "variational autoencoder: encoder -> (mean, log-variance), decoder generates from z",
            "D. P. Kingma, M. Welling. Auto-encoding variational Bayes. ICLR 2014",
            HyperParameter(
                "latent_dim", 16, "dimensions of the latent space", type=int, minimum=1, maximum=4096
            ),
            HyperParameter(
                "hidden", 512, "units of the hidden layer of each part", type=int, minimum=1, maximum=65536
            ),
            HyperParameter(
                "beta",
                1.0,
                "weight of the KL term (1: the ELBO; > 1: beta-VAE)",
                type=float,
                minimum=0.0,
                maximum=1e4,
            ),
            family="generative",
            epochs=20,
            # At 1e-3, Adam's first steps (about +-lr on every weight) raised the KL term more
            # than they lowered the reconstruction loss on 5 of 6 seeds; 5e-4 lowered both.
            learning_rate=5e-4,
            parameters=829_232,
            evaluator="zoo_autoencoders.evaluate:evaluate_vae",
        )
    )
