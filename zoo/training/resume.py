"""Go on with a run from its last complete epoch, with the same optimizer state and the same
per-epoch data order, so that an interrupted and resumed run ends with the weights of an
uninterrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.core.errors import InvalidOption, RunFolderError
from zoo.core.registry import Registry
from zoo.runs import atomic, locks, run_folder
from zoo.training import augment as augmentation
from zoo.training import compile, data, distribute, models
from zoo.training.fit import FitSession, Log, OnEpoch, TrainResult, fit, start_tensorflow, steps_per_epoch


def resume(
    registry: Registry,
    run_dir: str | Path,
    epochs: int | None = None,
    data_dir: str | None = None,
    verbose: int = 1,
    log: Log = lambda message: None,
    on_epoch: OnEpoch = lambda epoch, epochs, row: None,
    augment: str | None = None,
) -> TrainResult:
    """Continue a run from its last complete epoch, up to ``epochs`` (default: as asked).

    The run folder is locked first, so a second ``--resume`` of it is refused at once. A run
    whose process was killed is taken as it lies: temporaries removed, the epoch that its model
    and history hold beyond state.json kept (``_epochs_saved``), and a run killed after its
    last epoch but before its test metrics finished without training. ``augment``, where given,
    must be the run's own (config.json's): another one would make it a different run.
    """
    run = run_folder.Run.open(run_dir)
    with locks.hold_run(run.path):
        atomic.remove([p for p in atomic.leftovers(run.path) if p.is_file()])  # a killed writer's
        _check_augment(run, augment)
        return _resume(registry, run, epochs, data_dir, verbose, log, on_epoch)


def _check_augment(run: run_folder.Run, asked: str | None) -> None:
    """The run's augmentation is known, and the one asked for (if any) is it; runs made before
    zoo had augmentation record none, and had none."""
    recorded = run.config.get("augment", augmentation.NONE)
    if not isinstance(recorded, str) or recorded not in augmentation.AUGMENTATIONS:
        raise RunFolderError(
            f"{str(run.path / run_folder.CONFIG_FILE)!r} names augmentation {recorded!r}, which this zoo "
            f"does not have (it has {', '.join(augmentation.AUGMENTATIONS)})"
        )
    if asked is not None and asked != recorded:
        raise InvalidOption(
            f"--augment {asked}: {str(run.path)!r} was trained with --augment {recorded}, and a resumed "
            "run goes on as it started; drop --augment"
        )


def _resume(
    registry: Registry,
    run: run_folder.Run,
    epochs: int | None,
    data_dir: str | None,
    verbose: int,
    log: Log,
    on_epoch: OnEpoch,
) -> TrainResult:
    for key in ("dataset", "batch_size", "seed"):  # what fitting reads: a damaged config.json is named now
        run.setting(key)
    state, _ = run.state, run.history  # damaged files are named before TensorFlow starts
    data.run_dataset(registry, run)  # so is a dataset path recorded relative
    config = dict(run.config)
    target = epochs if epochs is not None else int(state.get("epochs") or run.setting("epochs"))
    done = int(state.get("epochs_completed", 0))
    if target < done or (target == done and state.get("status") == "complete"):
        raise RunFolderError(
            f"{str(run.path)!r} has {done} of {target} epochs done; pass --epochs N (N > {done}) to go on"
        )
    spec = registry.architecture(run.architecture)
    data_dir = data_dir if data_dir is not None else config.get("data_dir")
    start_tensorflow(int(config.get("seed", 0)), bool(config.get("deterministic")))
    strategy = distribute.strategy(str(config.get("strategy", "none")))
    arrays = data.run_arrays(registry, spec, run, data_dir, for_training=True)
    with strategy.scope():
        model = models.load_run_model(registry, run, compile=True)
    history = run.history
    recorded = done
    done = _epochs_saved(done, model, steps_per_epoch(arrays, int(config["batch_size"])), history)
    if any(len(values) != done for values in history.values()):
        history = {name: values[:done] for name, values in history.items()}
        run_folder.write_history(run.path, history)
    if done != recorded:  # commit the epoch the kill left uncommitted, before the next one is saved
        run_folder.write_state(run.path, "running", done, target)
    if config.get("lr_schedule") == "cosine" and target != int(config.get("epochs") or target):
        steps = steps_per_epoch(arrays, int(config["batch_size"]))
        compile.stretch_cosine(model, float(config["learning_rate"]), steps, target)
        log(f"the cosine schedule now runs to 0 over {target} epochs, not {config['epochs']}")
    config["epochs"] = target
    atomic.write_json(run.path / run_folder.CONFIG_FILE, config)
    log(f"resuming {run.path} at epoch {done + 1} of {target}")
    session = FitSession(spec, model, arrays, run.path, config, strategy, done, history)
    return fit(session, target, verbose, log, on_epoch)


def _epochs_saved(recorded: int, model: Any, steps: int, history: dict[str, list[float]]) -> int:
    """The epoch to go on from: state.json's, or the next one where a kill came after that
    epoch's history and model were saved but before state.json, written last, committed it
    (the optimizer's step count tells which epoch ``model.keras`` holds)."""
    in_model, partial = divmod(int(model.optimizer.iterations), steps)
    rows = min((len(values) for values in history.values()), default=0)
    return in_model if not partial and in_model == recorded + 1 and rows >= in_model else recorded
