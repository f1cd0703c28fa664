"""``zoo list``, ``info`` and ``datasets``: what is registered, described without
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


COMMANDS = (list_command, info_command, datasets_command)
