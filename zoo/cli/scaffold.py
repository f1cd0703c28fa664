"""``zoo plugins new NAME``: a plugin package to start from, one a third party could publish.

It writes ``keras-zoo-NAME/`` from the templates in ``plugin_template/`` (files named ``*.tmpl``,
so that they are never imported or linted as modules): a pyproject registering the entry point
``NAME = "zoo_NAME"`` in the group ``zoo``, the package ``zoo_NAME`` (a tiny convolutional
autoencoder and a dataset built on ``mnist-sample``), its contract test and a README. Once it is
``pip install -e``'d, its own ``pytest`` and ``zoo plugins check NAME`` pass as written.

The package is written into a temporary folder beside the target and renamed into place when
complete: a killed run leaves no half package under the final name. An existing target is never
touched.
"""

from __future__ import annotations

import importlib.util
import re
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import click

from zoo import __version__
from zoo.cli.output import get_registry
from zoo.core.errors import InvalidOption, OutputExists
from zoo.core.registry import Registry
from zoo.core.specs import name_problems
from zoo.runs.atomic import atomic_dir, check_writable_folder

TEMPLATE = "plugin_template"
SUFFIX = ".tmpl"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
DISTRIBUTION_PREFIX = "keras-zoo-"  # the host's distribution name, as pytest-X and llm-X do
MODULE_PREFIX = "zoo_"  # as the built-in plugins: zoo_lenet, zoo_unet


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a plugin (None: it can). The rules of a spec name, and a Python
    identifier once '-' becomes '_', since it also names the package ``zoo_NAME``."""
    ends_well = name[-1:].isalnum()  # keras-zoo-x- is no valid distribution name (PEP 508)
    if not name_problems("plugin", name) and name.replace("-", "_").isidentifier() and ends_well:
        return None
    return (
        f"plugin name {name!r} is not valid: use lower-case letters, digits, '-' and '_', starting "
        "with a letter and ending with a letter or digit (it names the architecture, the entry point "
        "and the package zoo_NAME)"
    )


def values(name: str) -> dict[str, str]:
    """What the templates' ``{{placeholders}}`` stand for."""
    ident = name.replace("-", "_")
    return {
        "name": name,
        "ident": ident,
        "module": MODULE_PREFIX + ident,
        "distribution": DISTRIBUTION_PREFIX + name.replace("_", "-"),
        "zoo_version": __version__,
    }


def taken(name: str, registry: Registry) -> str | None:
    """Why ``name`` would collide with what is installed here (None: it would not)."""
    filled = values(name)
    for plugin in registry.plugins:
        if plugin.name == name:
            return f"plugin name {name!r} is taken by the installed plugin from {plugin.distribution or '?'}"
    dataset = f"{name}-inverted"
    for kind, table, wanted in (
        ("architecture", registry.architectures, name),
        ("dataset", registry.datasets, dataset),
    ):
        if wanted in table:
            return f"{kind} {wanted!r} is already registered by plugin {table[wanted].plugin!r}"
    found = importlib.util.find_spec(filled["module"])
    if found is not None:
        return f"a module {filled['module']!r} is already importable here ({found.origin})"
    return None


def create(name: str, parent: str | Path, registry: Registry | None = None) -> Path:
    """Write the plugin package ``keras-zoo-NAME`` into ``parent``; its path.

    ``InvalidOption`` for a bad name (or one that ``registry`` already holds), ``OutputExists``
    if the folder is there already."""
    problem = name_problem(name)
    if problem:
        raise InvalidOption(problem)
    filled = values(name)
    final = Path(parent) / filled["distribution"]
    refusal = f"{str(final)!r} exists; zoo plugins new never writes into an existing folder"
    if final.exists() or final.is_symlink():
        raise OutputExists(refusal)
    clash = taken(name, registry) if registry is not None else None
    if clash:
        raise InvalidOption(f"{clash}; choose another name")
    check_writable_folder(parent, "--dir")
    try:
        with atomic_dir(final, replace=False) as tmp:
            _render(resources.files("zoo.cli") / TEMPLATE, tmp, filled)
    except FileExistsError:
        raise OutputExists(refusal) from None
    return final


def _render(source: Traversable, target: Path, filled: dict[str, str]) -> None:
    """Copy the template folder ``source`` into ``target``, filling in the placeholders; the
    folder ``package`` becomes the module's, ``gitignore`` becomes ``.gitignore``."""
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name == "__pycache__":
            continue
        if entry.is_dir():
            folder = target / (filled["module"] if entry.name == "package" else entry.name)
            folder.mkdir()
            _render(entry, folder, filled)
        elif entry.name.endswith(SUFFIX):
            name = entry.name.removesuffix(SUFFIX)
            name = "." + name if name == "gitignore" else name
            text = PLACEHOLDER.sub(lambda m: filled[m[1]], entry.read_text(encoding="utf-8"))
            (target / name).write_text(text, encoding="utf-8")
        else:  # a file added to the template without the suffix would be lost without a word
            raise RuntimeError(f"template file {entry.name!r} is not named *{SUFFIX}")


@click.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "parent",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder to write keras-zoo-NAME/ into.",
)
@click.pass_context
def new_command(ctx: click.Context, name: str, parent: Path) -> None:
    """Write a plugin package to start from: keras-zoo-NAME/, the architecture NAME (a tiny
    convolutional autoencoder) and the dataset NAME-inverted, with its contract test. Once it is
    installed (pip install -e), its pytest and `zoo plugins check NAME` pass.

    NAME: lower-case letters, digits, '-' and '_', starting with a letter and ending with a letter
    or digit. Prints the folder.
    """
    problem = name_problem(name)  # before the plugins load: a typo costs nothing
    if problem:
        raise InvalidOption(problem)
    folder = create(name, parent, get_registry(ctx))
    click.echo(
        f"zoo: wrote the plugin package {folder.name} (architecture {name!r}, dataset "
        f"'{name}-inverted'); next:\n"
        f"  pip install -e '{folder}[test]'\n"
        f"  zoo plugins check {name}\n"
        f"  cd {folder} && python -m pytest",
        err=True,
    )
    click.echo(str(folder))
