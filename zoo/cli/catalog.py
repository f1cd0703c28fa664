"""``zoo list``, ``info``, ``plugins`` and ``datasets``: what is registered, described without
importing TensorFlow."""

from __future__ import annotations

import click

from zoo.cli.describe import format_shape
from zoo.cli.output import emit_json, get_registry, table
from zoo.core.specs import FAMILIES


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--family", type=click.Choice(FAMILIES), help="Only this family.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def list_command(ctx: click.Context, pattern: str | None, family: str | None, as_json: bool) -> None:
    """Every registered architecture, or those whose name matches PATTERN (glob or substring)."""
    from zoo.cli.describe import architecture_row, matches

    specs = [
        s
        for s in sorted(get_registry(ctx).architectures.values(), key=lambda s: s.name)
        if matches(s, pattern, family)
    ]
    rows = [architecture_row(s) for s in specs]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No architectures match.", err=True)
        return
    click.echo(
        table(
            [
                [
                    r["name"],
                    r["family"],
                    ",".join(r["parts"]),
                    format_shape(r["input_shape"]),
                    r["plugin"],
                    r["summary"],
                ]
                for r in rows
            ],
            ["NAME", "FAMILY", "PARTS", "INPUT", "PLUGIN", "SUMMARY"],
        )
    )


@click.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def info_command(ctx: click.Context, name: str, as_json: bool) -> None:
    """Parts, input shape, hyper-parameters, default dataset and reference of an architecture."""
    from zoo.cli.describe import architecture_info, format_info

    info = architecture_info(get_registry(ctx), name)
    if as_json:
        emit_json(info)
    else:
        click.echo(format_info(info))


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def plugins_command(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Installed plugins: distribution, version, hooks, what they registered, and load errors."""
    # A plugin that failed is always shown, built-in or not.
    records = [p for p in get_registry(ctx).plugins if show_all or not p.builtin or p.error]
    if as_json:
        emit_json([p.to_json() for p in records])
        return
    if not records:
        click.echo("No third-party plugins installed (--all shows the built-in ones).", err=True)
        return
    rows = [
        [
            p.name,
            f"{p.distribution or '-'} {p.version or ''}".strip(),
            "yes" if p.builtin else "no",
            ",".join(h.removeprefix("zoo_register_") for h in p.hooks) or "-",
            ", ".join(p.registered) or "-",
            p.path or "-",  # plugins are code: where it runs from
            f"ERROR {p.error}" if p.error else "ok",
        ]
        for p in records
    ]
    click.echo(table(rows, ["PLUGIN", "DISTRIBUTION", "BUILT-IN", "HOOKS", "REGISTERED", "PATH", "STATUS"]))


@click.command("datasets")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def datasets_command(ctx: click.Context, as_json: bool) -> None:
    """Every registered dataset: image shape, classes, where it comes from."""
    from zoo.cli.describe import dataset_row

    rows = [dataset_row(d) for d in sorted(get_registry(ctx).datasets.values(), key=lambda d: d.name)]
    if as_json:
        emit_json(rows)
        return
    cells = [
        [
            r["usage"],
            "any" if r["image_shape"] is None else format_shape(r["image_shape"]),
            str(r["num_classes"] or "from folders"),
            r["plugin"],
            r["summary"],
        ]
        for r in rows
    ]
    click.echo(table(cells, ["NAME", "IMAGES", "CLASSES", "PLUGIN", "SUMMARY"]))


COMMANDS = (list_command, info_command, plugins_command, datasets_command)
