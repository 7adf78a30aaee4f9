"""The installed distributions as riemann-auto reads them agree with importlib.metadata."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from riemann_auto.instrumentation import installed

GROUPS = ("riemann_auto.instrumentors", "console_scripts", "pytest11")


def test_every_installed_distribution_has_the_version_importlib_metadata_gives():
    names = {dist.metadata["Name"] for dist in importlib.metadata.distributions()}
    assert len(names) > 50  # the test venv: riemann-auto, its test extra, the example plugin
    assert {name: installed.version(name) for name in names} == {
        name: importlib.metadata.version(name) for name in names
    }
    assert installed.version("no-such-distribution") is None


@pytest.mark.parametrize("group", GROUPS)
def test_every_entry_point_of_a_group_is_the_one_importlib_metadata_finds(group):
    expected = {(e.name, e.value) for e in importlib.metadata.entry_points(group=group)}
    assert expected
    assert {(e.name, e.value) for e in installed.entry_points(group)} == expected


def test_the_first_on_sys_path_wins_and_egg_info_without_a_version_is_read(tmp_path, monkeypatch):
    first, second = tmp_path / "first", tmp_path / "second"
    (first / "Shop_Plugin-2.0.dist-info").mkdir(parents=True)
    (first / "Shop_Plugin-2.0.dist-info" / "entry_points.txt").write_text(
        "[riemann_auto.instrumentors]\nshop = shop_plugin.probe:ShopInstrumentor [fast]\n"
        "; a comment\n[console_scripts]\nshop = shop_plugin:main\n"
    )
    (second / "shop.plugin-1.0.dist-info").mkdir(parents=True)  # shadowed by the first
    (second / "shop.plugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[riemann_auto.instrumentors]\nold = shop_plugin:Old\n"
    )
    (second / "legacy.egg-info").mkdir()
    (second / "legacy.egg-info" / "PKG-INFO").write_text("Name: legacy\nVersion: 0.9b1\n\nBody\n")
    (second / "legacy.py").write_text("class Probe:\n    class Inner:\n        pass\n")
    (second / "legacy.egg-info" / "entry_points.txt").write_text(
        "[riemann_auto.instrumentors]\nlegacy = legacy:Probe.Inner\n"
    )
    (second / "shop_plugin-0.1.egg-info").mkdir()  # beside a dist-info, pip's is the one
    (second / "cache-3.0.dist-info").mkdir()
    (second / "cache-1.0.egg-info").mkdir()
    (second / "latin-1.0.dist-info").mkdir()  # not UTF-8: skipped, the others still read
    (second / "latin-1.0.dist-info" / "entry_points.txt").write_bytes(b"[x]\n\xe9t\xe9 = y\n")
    egg = tmp_path / "Tiny_Tool-4.2-py3.11.egg"  # easy_install's, on the path itself
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[riemann_auto.instrumentors]\ntiny = t:T\n")
    monkeypatch.setattr(sys, "path", [str(first), str(second), str(egg), str(tmp_path / "no")])
    assert installed.version("shop-plugin") == "2.0"
    assert installed.version("Legacy") == "0.9b1"
    assert installed.version("cache") == "3.0"
    assert installed.version("tiny-tool") == "4.2"
    points = installed.entry_points("riemann_auto.instrumentors")
    assert [(e.name, e.value) for e in points] == [
        ("shop", "shop_plugin.probe:ShopInstrumentor [fast]"),
        ("legacy", "legacy:Probe.Inner"),
        ("tiny", "t:T"),
    ]
    try:
        assert points[1].load().__qualname__ == "Probe.Inner"
    finally:
        sys.modules.pop("legacy", None)
