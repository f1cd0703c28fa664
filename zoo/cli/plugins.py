"""``zoo plugins``: the installed plugins, ``check`` (the plugin contract, as a table) and
``new`` (a plugin package to start from)."""

from __future__ import annotations

import click

from zoo.cli.output import emit_json, get_registry, table
from zoo.cli.scaffold import new_command


@click.group("plugins", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, for machines.")
@click.pass_context
def plugins_command(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """Installed plugins: distribution, version, hooks, what they registered, how long each took
    to load (every command waits for it), and load errors.

    ``zoo plugins check`` runs the plugin contract on them; ``zoo plugins new`` starts one.
    """
    if ctx.invoked_subcommand is not None:
        return
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
            f"{p.load_seconds:.2f} s",
            f"ERROR {p.error}" if p.error else "ok",
        ]
        for p in records
    ]
    click.echo(
        table(rows, ["PLUGIN", "DISTRIBUTION", "BUILT-IN", "HOOKS", "REGISTERED", "PATH", "LOAD", "STATUS"])
    )


@plugins_command.command("check")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="A JSON object, for machines.")
@click.pass_context
def check_command(ctx: click.Context, names: tuple[str, ...], as_json: bool) -> None:
    """Run the plugin contract on every architecture, dataset and exporter of the installed
    plugins, or on those NAMES (plugins or items): a table of checks with pass, fail or skip and
    the reason. Exit code 1 if any check fails.

    Seconds per small architecture: it builds the model, trains a step and exports it.
    """
    import contextlib
    import sys

    from zoo.checks import plan

    found = plan.checks(get_registry(ctx), names)
    out = sys.stdout  # plugin code may print (Keras' "Downloading data from"): it goes to stderr
    shown: list[tuple[str, str]] = []

    def progress(outcome: plan.Outcome) -> None:
        check = outcome.check
        if as_json:
            return
        if (check.kind, check.item) not in shown:
            shown.append((check.kind, check.item))
            click.echo(f"{check.kind} {check.item}", file=out)
        status = _STATUS[outcome.status]
        line = f"  {status:4}  {check.name:20} {outcome.seconds:6.1f}s  {outcome.detail}"
        click.echo(line.rstrip(), file=out)

    with contextlib.redirect_stdout(sys.stderr):
        result = plan.timed(found, progress)
    if as_json:
        emit_json(result)
    else:
        counts = result["counts"]
        click.echo(
            f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped "
            f"in {result['seconds']:.1f} s"
        )
        for item in result["items"]:
            for check in item["checks"]:
                if check["status"] == "fail":
                    click.echo(
                        f"FAIL {item['kind']} {item['name']} {check['check']}: {check['detail']}", err=True
                    )
    if not result["passed"]:
        ctx.exit(1)


_STATUS = {"pass": "ok", "fail": "FAIL", "skip": "skip"}

plugins_command.add_command(new_command)

COMMANDS = (plugins_command,)
