"""What is installed: entry points and versions, read from the metadata folders on sys.path.

`importlib.metadata` (or its backport) finds the same, but importing it costs a
program 10 to 20 ms at its first import (email, zipfile, pathlib and more), for
two answers. This reads them where those find them: the `*.dist-info` and
`*.egg-info` folders of each folder on sys.path (and an `.egg` folder's own),
the first of a name winning. A distribution inside a zip file is not seen.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class EntryPoint:
    """One line of an `entry_points.txt`: `name = module:attribute [extras]`."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def load(self) -> object:
        """The object it names, its module imported."""
        module, _, attribute = self.value.partition("[")[0].partition(":")
        module = module.strip()
        __import__(module)
        found: object = sys.modules[module]
        for part in filter(None, attribute.strip().split(".")):
            found = getattr(found, part)
        return found


def normalized(name: str) -> str:
    """A distribution's name as every spelling of it compares (PEP 503)."""
    key = name.lower().replace("-", "_").replace(".", "_")
    while "__" in key:
        key = key.replace("__", "_")
    return key


def _distributions() -> Iterator[tuple[str, str]]:
    """(normalized name, metadata folder) of each distribution, first on sys.path first;
    in one folder a `.dist-info` (what pip installed) before an `.egg-info`."""
    seen: set[str] = set()
    for entry in list(sys.path):
        if not isinstance(entry, str):  # bytes or objects some programs put there
            continue
        folder = entry or os.curdir
        if folder.endswith(".egg"):  # an egg on the path: its metadata is inside
            found = [(os.path.basename(folder), os.path.join(folder, "EGG-INFO"))]
        else:
            try:
                names = os.listdir(folder)
            except (OSError, ValueError):
                continue
            names.sort(key=lambda name: (not name.endswith(".dist-info"), name))
            found = [
                (name, os.path.join(folder, name))
                for name in names
                if name.endswith((".dist-info", ".egg-info"))
            ]
        for name, metadata in found:
            key = normalized(name.rpartition(".")[0].partition("-")[0])
            if key not in seen:
                seen.add(key)
                yield key, metadata


def version(distribution: str) -> str | None:
    """The installed version of `distribution`, or None if it is not installed."""
    wanted = normalized(distribution)
    for key, folder in _distributions():
        if key == wanted:
            return _version_of(folder)
    return None


def _version_of(folder: str) -> str | None:
    name = os.path.basename(folder)
    if name == "EGG-INFO":  # inside `{name}-{version}-py3.x.egg`
        name = os.path.basename(os.path.dirname(folder))
    parts = name.rpartition(".")[0].split("-")
    if name.endswith(".dist-info") and len(parts) >= 2:
        return parts[1]  # `{name}-{version}.dist-info`, by the wheel specification
    for metadata in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(folder, metadata), encoding="utf-8") as lines:
                for line in lines:
                    if line.startswith("Version:"):
                        return line[len("Version:") :].strip()
                    if not line.strip():
                        break  # the headers end here
        except (OSError, ValueError):  # unreadable, or not UTF-8
            continue
    return parts[1] if len(parts) >= 2 else None


def entry_points(group: str) -> list[EntryPoint]:
    """Every installed distribution's entry points in `group`."""
    found = []
    for _, folder in _distributions():
        try:
            with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as lines:
                text = lines.read()
        except (OSError, ValueError):  # none, unreadable, or not UTF-8
            continue
        section = None
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
            elif section == group and "=" in line and not line.startswith(("#", ";")):
                name, _, value = line.partition("=")
                found.append(EntryPoint(name.strip(), value.strip()))
    return found
