"""Training-time augmentation (issue 18, point 1): deterministic under a seed, the same after a
resume, the targets moved with the images, and never part of an export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import invoke
from zoo.training import augment, data, pipeline

SEED = 7


def _images(n: int = 40, size: int = 28, seed: int = 0) -> np.ndarray:
    """Blocky images in [0, 1]: 4x4 blocks, so that most pixels are far from an edge."""
    coarse = np.random.default_rng(seed).random((n, size // 4, size // 4, 1))
    return np.kron(coarse, np.ones((1, 4, 4, 1))).astype(np.float32)


def _epoch_batches(dataset, epoch: int, first_epoch: int, steps: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batches of ``epoch`` out of a dataset that starts at ``first_epoch``."""
    skip = (epoch - first_epoch) * steps
    return [(x.numpy(), t.numpy()) for x, t in dataset.skip(skip).take(steps)]


def _by_example(batches) -> dict[int, np.ndarray]:
    """Each image by its index (the label, in these tests)."""
    return {int(i): img for images, labels in batches for img, i in zip(images, labels, strict=True)}


def _same(a, b) -> bool:
    if len(a) != len(b):
        return False
    return all(np.array_equal(x, y) for pa, pb in zip(a, b, strict=True) for x, y in zip(pa, pb, strict=True))


def test_none_leaves_the_images_untouched():
    x = _images()
    y = np.arange(len(x))
    plain = pipeline.training_dataset(x, y, 16, SEED, 0, 1)
    for images, labels in plain:
        assert np.array_equal(images.numpy(), x[labels.numpy()])  # the labels are the indices here
    assert augment.parameters("none", len(x), SEED, 0) is None


def test_affine_is_deterministic_under_a_seed_and_differs_by_epoch_and_seed():
    x = _images()
    y = np.arange(len(x))
    steps = pipeline.steps_per_epoch(len(x), 16)

    def batches(seed: int, epoch: int):
        ds = pipeline.training_dataset(x, y, 16, seed, 0, 2, augmentation="affine")
        return _epoch_batches(ds, epoch, 0, steps)

    first = batches(SEED, 0)
    assert _same(first, batches(SEED, 0))
    for images, labels in first:  # distorted, and each image moved as a whole, labels kept
        assert not np.array_equal(images, x[labels])
    # per example: the same image is distorted otherwise in another epoch and under another seed
    draws = [augment.parameters("affine", len(x), s, e).numpy() for s, e in ((SEED, 0), (SEED, 1), (8, 0))]
    assert np.array_equal(draws[0], augment.parameters("affine", len(x), SEED, 0).numpy())
    assert not np.allclose(draws[0], draws[1]) and not np.allclose(draws[0], draws[2])
    by_example, other_epoch = _by_example(first), _by_example(batches(SEED, 1))
    assert all(not np.array_equal(by_example[i], other_epoch[i]) for i in range(len(x)))


def test_epoch_two_after_a_resume_is_the_epoch_two_of_an_uninterrupted_run():
    x = _images()
    y = np.arange(len(x))
    steps = pipeline.steps_per_epoch(len(x), 16)
    whole = pipeline.training_dataset(x, y, 16, SEED, 0, 2, augmentation="affine")
    resumed = pipeline.training_dataset(x, y, 16, SEED, 1, 2, augmentation="affine")
    assert _same(_epoch_batches(whole, 1, 0, steps), _epoch_batches(resumed, 1, 1, steps))


def test_autoencoder_input_and_target_are_distorted_alike():
    x = _images()
    ds = pipeline.training_dataset(x, x, 16, SEED, 0, 1, augmentation="affine", targets_kind="inputs")
    for images, targets in ds:
        assert np.array_equal(images.numpy(), targets.numpy())
        assert not any(np.array_equal(images.numpy()[0], original) for original in x)


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3x3 neighbourhood holds one class: away from the edges interpolation blurs."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)), mode="edge")
    same = np.ones(mask.shape, bool)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            same &= padded[:, dy : dy + mask.shape[1], dx : dx + mask.shape[2]] == mask
    return same


def test_a_whole_pixel_shift_moves_image_and_mask_exactly_alike():
    x = _images(4)
    masks = data.segmentation_masks(x, np.array([0, 1, 2, 3]))
    draws = np.zeros((4, augment.PARAMETERS), np.float32)
    draws[:, 0] = [0.5, -1.0, 0.0, 0.5]  # columns: +1, -2, 0, +1 px on 28x28
    draws[:, 1] = [0.0, 0.5, -0.5, 1.0]  # rows: 0, +1, -1, +2 px
    moved, moved_masks = (t.numpy() for t in augment.apply("affine", x, masks, "masks", draws))
    assert np.array_equal(moved_masks, data.segmentation_masks(moved, np.array([0, 1, 2, 3])))
    assert np.array_equal(moved[1, 1:, : 28 - 2], x[1, :-1, 2:])  # +1 row, -2 columns
    assert not moved_masks[1, 0].any()  # what came from outside is background


def test_segmentation_masks_follow_the_images_through_the_pipeline():
    x = _images(64)
    y = np.arange(64) % 10
    masks = data.segmentation_masks(x, y)
    ds = pipeline.training_dataset(x, masks, 16, SEED, 0, 1, augmentation="affine", targets_kind="masks")
    agree = total = 0
    for images, moved_masks in ds:
        images, moved_masks = images.numpy(), moved_masks.numpy()
        assert moved_masks.dtype == masks.dtype and set(np.unique(moved_masks)) <= set(np.unique(masks))
        # the class of each image is the one its mask had (the mask moved as a whole, nearest-neighbour)
        expected = (images.mean(axis=-1) > 0.5).astype(np.int64)
        inside = _interior(expected) & _interior(moved_masks > 0)
        agree += int(((moved_masks > 0) == expected)[inside].sum())
        total += int(inside.sum())
    assert total > 0.5 * x.size and agree == total


def _train(registry, out: Path, *extra: str):
    result = invoke(
        registry,
        "train", "lenet5", "--dataset", "synthetic", "--epochs", "1", "--batch-size", "256",
        "--seed", str(SEED), "--deterministic", "--quiet", "--out", str(out), *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.output + result.stderr
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def affine_run(tmp_path_factory):
    from tests.conftest import make_registry

    return _train(make_registry(), tmp_path_factory.mktemp("augment"), "--augment", "affine")


def test_the_run_records_its_augmentation_in_config_and_card(affine_run):
    config = json.loads((affine_run / "config.json").read_text())
    assert config["augment"] == "affine"
    card = (affine_run / "README.md").read_text()
    assert "| training augmentation | affine, as LeCun et al. 1998" in card
    assert "±2 px at 28x28" in card


def test_an_unknown_augmentation_is_refused_in_one_line(registry, tmp_path):
    result = invoke(registry, "train", "lenet5", "--augment", "elastik", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "'elastik' is not one of 'none', 'affine'" in result.stderr
    assert not list(tmp_path.iterdir())


def test_resume_keeps_the_augmentation_and_its_epoch_two(registry, tmp_path, monkeypatch):
    run = _train(registry, tmp_path, "--augment", "affine")
    refused = invoke(registry, "train", "--resume", str(run), "--epochs", "2", "--augment", "none")
    assert refused.exit_code == 2
    assert refused.stderr.strip().count("\n") == 0 and "trained with --augment affine" in refused.stderr

    config_file = run / "config.json"
    config = config_file.read_text()
    config_file.write_text(config.replace('"augment": "affine"', '"augment": "elastik"'))
    damaged = invoke(registry, "train", "--resume", str(run), "--epochs", "2")
    assert damaged.exit_code == 2 and damaged.stderr.strip().count("\n") == 0
    assert "names augmentation 'elastik', which this zoo does not have" in damaged.stderr
    config_file.write_text(config)

    seen = []
    real = pipeline.training_dataset

    def recording(*args, **kwargs):
        seen.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "training_dataset", recording)
    result = invoke(registry, "train", "--resume", str(run), "--epochs", "2", "--quiet")
    assert result.exit_code == 0, result.stderr
    (args, kwargs), = seen  # fmt: skip
    assert kwargs["augmentation"] == "affine" and args[4] == 1  # from epoch 2 (index 1), affine
    x, t, batch_size, seed = args[:4]
    steps = pipeline.steps_per_epoch(len(x), batch_size)
    whole = real(x, t, batch_size, seed, 0, 2, **kwargs)
    assert _same(_epoch_batches(whole, 1, 0, steps), _epoch_batches(real(*args, **kwargs), 1, 1, steps))
    assert json.loads((run / "config.json").read_text())["augment"] == "affine"


def test_an_export_of_an_augmented_run_has_no_augmentation(affine_run):
    import onnx

    from tests.conftest import make_registry
    from zoo.export.orchestrate import export_run

    result = export_run(make_registry(), affine_run)
    files = result.manifest["files"]
    assert files and all(f["passed"] for f in files)  # each file's test set equals Keras' outputs
    for f in files:
        graph = onnx.load(str(result.path / f["file"])).graph
        ops = {node.op_type for node in graph.node}
        assert not {op for op in ops if "Random" in op or "Transform" in op or "Warp" in op}, ops


def test_the_same_seed_gives_the_same_weights_with_augmentation(affine_run, registry, tmp_path):
    from tests.conftest import load_model

    again = _train(registry, tmp_path, "--augment", "affine")
    plain = _train(registry, tmp_path / "plain")
    weights = [load_model(run).get_weights() for run in (affine_run, again, plain)]
    assert all(np.array_equal(a, b) for a, b in zip(weights[0], weights[1], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(weights[0], weights[2], strict=True))
