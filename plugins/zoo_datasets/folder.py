"""``folder:PATH``: a user's own images, labelled by the sub-folder they sit in.

Decoded and resized with TensorFlow, imported only when a folder is loaded, so ``zoo list``
stays instant.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from zoo.api import DatasetUnavailable, limit, readable_folder

# What tf.io.decode_image reads, as Keras' image_dataset_from_directory accepts; case-insensitive.
EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
HOLD_OUT = 0.2
SPLITS = ("train", "test")
SHUFFLE_SEED = 0
_IGNORED_FOLDERS = ("__MACOSX",)  # what macOS adds to zip files it makes


def load_folder(
    data_dir: Path | None, input_shape: tuple[int | None, ...], argument: str = ""
) -> tuple[Any, ...]:
    """Images from ``PATH`` (``argument``), one sub-folder per class.

    Two layouts:

    - ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``: the split is the user's; both must
      name the same classes. Used when ``train`` and ``test`` are PATH's only sub-folders.
    - ``PATH/<class>/*``: a deterministic 20% of each class (rounded, at least one image where a
      class has two or more) is held out as the test split. The held-out files are chosen by a
      hash of their names, not their order, so files named by time do not all land in test, and
      the split is the same on every machine.

    Class names are the sub-folder names sorted (Python's order: upper case first); a class's
    label is its position. Images are PNG, JPEG, BMP or GIF (the first frame), by extension:
    ``.png .jpg .jpeg .bmp .gif`` in any case; other files, and hidden files and folders (names
    starting with ``.``), are ignored, also in folders nested below a class folder.
    A relative PATH is relative to the current directory; ``data_dir`` is not used.

    Each file is read once: a file reached twice (a link, a hard link) in one class counts
    once, and one reached in two classes or in both train/ and test/ is refused, naming both
    paths; a class folder that is a link to the dataset folder, a folder above it, or a folder
    another class reads is refused (links to folders elsewhere are followed). File names may
    be any bytes; a class folder's name is a label, written to config.json and the model card,
    so it must be valid UTF-8.

    Every image is resized (stretched, not cropped: bilinear with antialiasing, as
    ``tf.image.resize``) to the architecture's height and width; where the architecture leaves
    a dimension open (``None``), the first training image's size is used for all. Alpha is
    dropped; grey images stay one channel unless some image is colour, then all become RGB
    (the core converts to the model's channels and notes it). The training images are shuffled
    with a fixed seed, because Keras' ``validation_split`` takes the last samples unshuffled,
    which for images sorted by class would be the last class alone.

    Returns ``(x_train, y_train, x_test, y_test, class_names)``: float32 NHWC images in [0, 1],
    int64 labels, and the class names.
    """
    root = _root(argument)
    train, test, class_names = _list_files(root)
    import tensorflow as tf

    height, width = input_shape[0], input_shape[1]
    x_train: list[np.ndarray] = []
    for path, _ in train:
        image = _decode(tf, path)
        if height is None or width is None:
            height, width = height or image.shape[0], width or image.shape[1]
        x_train.append(_resize(tf, image, (height, width)))
    x_test = [_resize(tf, _decode(tf, path), (height, width)) for path, _ in test]
    colour = any(x.shape[-1] == 3 for x in x_train + x_test)
    if colour:
        x_train, x_test = ([_as_rgb(x) for x in xs] for xs in (x_train, x_test))
    order = np.random.default_rng(SHUFFLE_SEED).permutation(len(train))
    return (
        np.stack(x_train)[order],
        np.asarray([label for _, label in train], np.int64)[order],
        np.stack(x_test),
        np.asarray([label for _, label in test], np.int64),
        class_names,
    )


def _root(argument: str) -> Path:
    if not argument:
        raise DatasetUnavailable("Dataset 'folder' needs a path: write it as folder:PATH")
    root = Path(argument).expanduser()
    try:
        if not root.exists():
            raise DatasetUnavailable(f"Dataset folder {argument!r} does not exist")
        if not root.is_dir():
            raise DatasetUnavailable(f"Dataset folder {argument!r} is not a folder")
    except OSError as exc:  # a name too long, a parent we may not enter
        reason = exc.strerror or exc
        raise DatasetUnavailable(f"Dataset folder {argument!r} cannot be used: {reason}") from exc
    if not readable_folder(root):
        raise DatasetUnavailable(f"Dataset folder {argument!r} is not readable")
    return root


def _visible(name: str) -> bool:
    return not name.startswith(".") and name not in _IGNORED_FOLDERS


def _subfolders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and _visible(p.name)), key=lambda p: p.name)


def _class_name(folder: Path) -> str:
    """A class folder's name as a label: its bytes as UTF-8 (also under an ASCII locale, where
    Python gives a UTF-8 name as escapes), or one line naming a folder whose name is not."""
    try:
        return os.fsencode(folder.name).decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetUnavailable(
            f"Class folder {str(folder)!r} has a name that is not valid UTF-8: a class name is written "
            "to config.json, the model card and the exported metadata; rename the folder"
        ) from None


def _check_links(folders: list[Path], root: Path) -> None:
    """Folders read side by side (the class folders, or train/ and test/) that lead, through
    links, to the dataset folder or above, or into each other: their files would be read twice."""
    top = Path(os.path.realpath(root))
    seen: dict[Path, Path] = {}
    for folder in folders:
        real = Path(os.path.realpath(folder))
        if top.is_relative_to(real):
            raise DatasetUnavailable(
                f"Folder {str(folder)!r} leads to {str(real)!r}, the dataset folder or a folder "
                "above it: its images would be read again; replace the link by a folder"
            )
        for other_real, other in seen.items():
            if real.is_relative_to(other_real) or other_real.is_relative_to(real):
                raise DatasetUnavailable(
                    f"Folder {str(folder)!r} leads to {str(real)!r}, which {str(other)!r} reads "
                    "already: each image must be in one class and one split"
                )
        seen[real] = folder


def _images(folder: Path) -> list[Path]:
    """Image files at any depth below ``folder``, sorted by path."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if _visible(d)]
        found += [
            Path(parent, f) for f in files if _visible(f) and os.path.splitext(f)[1].lower() in EXTENSIONS
        ]
    return sorted(found)


def _classes(folder: Path, root: Path) -> dict[str, tuple[Path, list[Path]]]:
    """Class name -> (its folder, its images), for every sub-folder; a class without images is
    an error, and so is a class folder that leads back into the dataset (``_check_links``)."""
    subfolders = _subfolders(folder)
    if not subfolders:
        raise DatasetUnavailable(
            f"Dataset folder {str(folder)!r} has no class sub-folders: put each class's images "
            f"in a sub-folder named after it"
        )
    _check_links(subfolders, root)
    classes = {_class_name(sub): (sub, _images(sub)) for sub in subfolders}
    for sub, files in classes.values():
        if not files:
            raise DatasetUnavailable(f"Class folder {str(sub)!r} has no images ({', '.join(EXTENSIONS)})")
    return classes


def _held_out(files: list[Path], folder: Path) -> set[Path]:
    """A fixed 20% of one class's files (at least one of two or more), chosen by name hash
    (of the name's bytes: any name, in any locale, gives the same split)."""
    count = max(1, int(len(files) * HOLD_OUT + 0.5)) if len(files) >= 2 else 0

    def key(path: Path) -> str:
        return hashlib.sha1(os.fsencode(path.relative_to(folder).as_posix())).hexdigest()

    return set(sorted(files, key=key)[:count])


class _Once:
    """Each file read once: the same file (by device and inode, through links) again in its
    class is dropped; in another class or split it is refused, naming both paths."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, int], tuple[Path, str]] = {}

    def __call__(self, files: list[Path], where: str) -> list[Path]:
        kept = []
        for path in files:
            try:
                status = path.stat()
            except OSError:
                kept.append(path)  # a broken link: named when it is read
                continue
            key = (status.st_dev, status.st_ino)
            if key not in self.seen:
                self.seen[key] = (path, where)
                kept.append(path)
                continue
            first, first_where = self.seen[key]
            if first_where != where:
                raise DatasetUnavailable(
                    f"Image {str(path)!r} ({where}) is the same file as {str(first)!r} ({first_where}): "
                    "each image must be in one class and one split"
                )
        return kept


def _list_files(root: Path) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]], tuple[str, ...]]:
    """(path, label) pairs for train and test, and the class names, from either layout."""
    subfolders = [p.name for p in _subfolders(root)]
    once = _Once()
    if subfolders == sorted(SPLITS):
        _check_links([root / split for split in sorted(SPLITS)], root)
        train_classes, test_classes = _classes(root / "train", root), _classes(root / "test", root)
        if list(train_classes) != list(test_classes):
            only_train = sorted(set(train_classes) - set(test_classes)) or ["(none)"]
            only_test = sorted(set(test_classes) - set(train_classes)) or ["(none)"]
            raise DatasetUnavailable(
                f"Dataset folder {str(root)!r}: train/ and test/ must have the same class sub-folders; "
                f"only in train/: {', '.join(only_train)}; only in test/: {', '.join(only_test)}"
            )
        names = tuple(train_classes)
        train = [
            (path, label)
            for label, name in enumerate(names)
            for path in once(train_classes[name][1], f"train/ class {name!r}")
        ]
        test = [
            (path, label)
            for label, name in enumerate(names)
            for path in once(test_classes[name][1], f"test/ class {name!r}")
        ]
        return train, test, names
    # train/<class>/ beside other folders would otherwise become one class named 'train'.
    if any(name in SPLITS and _subfolders(root / name) for name in subfolders):
        raise DatasetUnavailable(
            f"Dataset folder {str(root)!r} mixes a train/test layout with other folders "
            f"({', '.join(subfolders)}): use exactly train/ and test/, each with one sub-folder per "
            f"class, or only class sub-folders"
        )
    classes = _classes(root, root)
    names = tuple(classes)
    train, test = [], []
    for label, name in enumerate(names):
        folder, files = classes[name]
        files = once(files, f"class {name!r}")
        held = _held_out(files, folder)
        for path in files:
            (test if path in held else train).append((path, label))
    if not test:
        raise DatasetUnavailable(
            f"Dataset folder {str(root)!r} has one image per class, too few to hold out a test split: "
            f"give a class two or more, or use PATH/train/<class>/ and PATH/test/<class>/"
        )
    return train, test, names


# Limits on one image (zoo.core.settings lists them; a plugin reads them through zoo.api.limit):
# a 380 KB PNG can claim 20000 x 20000 pixels (5 GB decoded), refused unread.
MAX_PIXELS, MAX_PIXELS_VARIABLE = 50_000_000, "ZOO_MAX_IMAGE_PIXELS"
MAX_MB, MAX_MB_VARIABLE = 256, "ZOO_MAX_IMAGE_MB"


def _declared_pixels(contents: bytes) -> int | None:
    """Width x height from a PNG, GIF or BMP header (JPEG: None; TensorFlow checks its own)."""
    if contents[:8] == b"\x89PNG\r\n\x1a\n" and len(contents) >= 24:
        return int.from_bytes(contents[16:20], "big") * int.from_bytes(contents[20:24], "big")
    if contents[:4] in (b"GIF8",) and len(contents) >= 10:
        return int.from_bytes(contents[6:8], "little") * int.from_bytes(contents[8:10], "little")
    if contents[:2] == b"BM" and len(contents) >= 26:
        width = int.from_bytes(contents[18:22], "little", signed=True)
        height = int.from_bytes(contents[22:26], "little", signed=True)
        return abs(width) * abs(height)
    return None


def _decode(tf: Any, path: Path) -> np.ndarray:
    """One image as float32 HWC in [0, 1] with 1 or 3 channels (alpha dropped). Only regular
    files are read (a FIFO named x.png would block forever, a link to /dev/zero never end), and
    an image whose header claims more than ``MAX_PIXELS`` is refused before it is decoded."""
    max_bytes = int(limit(MAX_MB_VARIABLE, MAX_MB) * 2**20)
    max_pixels = limit(MAX_PIXELS_VARIABLE, MAX_PIXELS)
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise DatasetUnavailable(f"Image {str(path)!r} is not a regular file (a FIFO, a device?)")
        if status.st_size > max_bytes:
            raise DatasetUnavailable(
                f"Image {str(path)!r} has {status.st_size:,} bytes, more than {max_bytes:,} "
                f"(raise {MAX_MB_VARIABLE} for images you trust)"
            )
        contents = path.read_bytes()
    except OSError as exc:
        raise DatasetUnavailable(f"Cannot read image {str(path)!r}: {exc.strerror or exc}") from exc
    pixels = _declared_pixels(contents)
    if pixels is not None and pixels > max_pixels:
        raise DatasetUnavailable(
            f"Image {str(path)!r} claims {pixels:,} pixels, more than {int(max_pixels):,} "
            f"(raise {MAX_PIXELS_VARIABLE} for images you trust)"
        )
    try:
        image = tf.io.decode_image(contents, dtype=tf.float32, expand_animations=False).numpy()
    except tf.errors.OpError as exc:
        # TensorFlow wraps its reason in op names: '{{function_node ...}} Invalid PNG. [Op:DecodeImage]'.
        reason = re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:\w+\]", "", exc.message).strip()
        raise DatasetUnavailable(f"Cannot decode image {str(path)!r}: {reason}") from exc
    return image[..., :1] if image.shape[-1] in (1, 2) else image[..., :3]


def _resize(tf: Any, image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if image.shape[:2] == size:
        return image
    resized = tf.image.resize(image, size, method="bilinear", antialias=True).numpy()
    return np.clip(resized, 0.0, 1.0)


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return image if image.shape[-1] == 3 else np.repeat(image, 3, axis=-1)
