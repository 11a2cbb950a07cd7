"""Commands that load when they are named, not on every start.

Typer turns every registered command into a click command (reading each function's
signature and type hints) before it parses the command line, and mounting a command group
means importing its module.  ``migdiag analyze`` paid for ``history``, ``signatures``,
``catalog``, ``explain`` and ``collect`` on every run.  Here they are known by name and
built on first use: ``--help``, typo suggestions and shell completion still see them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo

if TYPE_CHECKING:
    # typer bundles its own click (typer._click); there may be no `click` to import at all.
    from typer import _click as click

# name -> (module, attribute): a ``typer.Typer`` (a command group) or a command function.
# The order is the order ``migdiag --help`` lists them, after the main module's commands.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "explain": ("migdiag.cli.explain", "explain"),
    "collect": ("migdiag.cli.collect", "collect"),
    "history": ("migdiag.cli.history", "app"),
    "signatures": ("migdiag.cli.signatures", "app"),
    "catalog": ("migdiag.cli.catalog", "app"),
}


class _Commands(MutableMapping[str, "click.Command"]):
    """A group's commands by name: the built ones, and the lazy ones built when looked up."""

    def __init__(
        self, built: MutableMapping[str, click.Command], build: Callable[[str], click.Command]
    ) -> None:
        self._built = built
        self._build = build

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built and name in LAZY_COMMANDS:
            self._built[name] = self._build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._built
        yield from (name for name in LAZY_COMMANDS if name not in self._built)

    def __len__(self) -> int:
        return len(self._built) + sum(1 for name in LAZY_COMMANDS if name not in self._built)

    def __contains__(self, name: object) -> bool:
        return name in self._built or name in LAZY_COMMANDS


class LazyGroup(TyperGroup):
    """The ``migdiag`` group: its own commands, plus ``LAZY_COMMANDS`` built when named."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands, self._build)

    def _build(self, name: str) -> click.Command:
        module, attribute = LAZY_COMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            # What ``app.add_typer(target, name=name)`` would have built.
            return get_group_from_info(
                TyperInfo(target, name=name),
                pretty_exceptions_short=target.pretty_exceptions_short,
                suggest_commands=self.suggest_commands,
                rich_markup_mode=self.rich_markup_mode,
            )
        # What ``app.command(name)(target)`` would have built.
        return get_command_from_info(
            CommandInfo(name=name, callback=target),
            pretty_exceptions_short=True,
            rich_markup_mode=self.rich_markup_mode,
        )
