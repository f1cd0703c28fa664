"""Built-in datasets: MNIST, an embedded MNIST sample, Fashion-MNIST, CIFAR-10, a user's own
folder of images, and synthetic images for tests."""

from __future__ import annotations

from zoo.api import DatasetSpec, hookimpl

DIGITS = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


@hookimpl
def zoo_register_datasets(register):
    register(
        DatasetSpec(
            name="mnist",
            loader="zoo_datasets.loaders:load_mnist",
            summary="MNIST handwritten digits, 60,000 train and 10,000 test, 28x28 grey",
            image_shape=(28, 28, 1),
            num_classes=10,
            class_names=DIGITS,
            source="mnist.npz in the data directory (--data-dir, $ZOO_DATA_DIR), else Keras' download",
        )
    )
    register(
        DatasetSpec(
            name="mnist-sample",
            loader="zoo_datasets.loaders:load_mnist_sample",
            summary="a real MNIST subset shipped with zoo: 4,000 train and 1,000 test, balanced",
            image_shape=(28, 28, 1),
            num_classes=10,
            class_names=DIGITS,
            source="embedded (zoo_datasets/mnist_sample.npz); works offline",
        )
    )
    register(
        DatasetSpec(
            name="fashion_mnist",
            loader="zoo_datasets.loaders:load_fashion_mnist",
            summary="Fashion-MNIST clothing images, 60,000 train and 10,000 test, 28x28 grey, 10 classes",
            image_shape=(28, 28, 1),
            num_classes=10,
            class_names=FASHION_MNIST_CLASSES,
            source=(
                "fashion_mnist.npz or fashion-mnist/*-ubyte.gz in the data directory, else Keras' "
                "download; Xiao, Rasul & Vollgraf 2017, Fashion-MNIST, arXiv:1708.07747"
            ),
        )
    )
    register(
        DatasetSpec(
            name="cifar10",
            loader="zoo_datasets.loaders:load_cifar10",
            summary="CIFAR-10 colour images, 50,000 train and 10,000 test, 32x32x3, 10 classes",
            image_shape=(32, 32, 3),
            num_classes=10,
            class_names=CIFAR10_CLASSES,
            source="cifar10.npz or cifar-10-batches-py/ in the data directory, else Keras' download",
        )
    )
    register(
        DatasetSpec(
            name="folder",
            loader="zoo_datasets.folder:load_folder",
            summary="your images: folder:PATH with one sub-folder per class, resized to the model's input",
            image_shape=None,
            num_classes=0,
            source=(
                "PATH/<class>/* (20% of each class held out for test) or PATH/train/<class>/* and "
                "PATH/test/<class>/*; PNG, JPEG, BMP or GIF"
            ),
            argument="PATH",
        )
    )
    register(
        DatasetSpec(
            name="synthetic",
            loader="zoo_datasets.loaders:load_synthetic",
            summary="random learnable images of any input shape, 10 classes; for tests",
            image_shape=None,
            num_classes=10,
            source="generated",
        )
    )
