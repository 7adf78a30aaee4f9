"""RIEMANN_TARGETS entries: what a well-formed one names, and the reason a bad one is given."""

from __future__ import annotations

import types

import pytest

from riemann_auto.startup.targets import parse, parse_all, resolve


def test_a_function_of_a_module():
    target = parse("shop.db:query")
    assert (target.entry, target.module, target.path, target.name) == (
        "shop.db:query",
        "shop.db",
        ("query",),
        None,
    )
    assert target.qualname == "query"


def test_a_nested_method_with_an_event_name():
    target = parse("shop.db:Repo.Cache.get=cache.get")
    assert (target.module, target.path, target.name) == (
        "shop.db",
        ("Repo", "Cache", "get"),
        "cache.get",
    )
    assert target.qualname == "Repo.Cache.get"


def test_every_method_of_a_class():
    assert parse("shop.db:Repo.*").path == ("Repo", "*")


def test_spaces_around_the_parts_are_ignored_and_the_entry_kept_as_written():
    target = parse(" shop.db:query = lookup ")
    assert (target.module, target.path, target.name) == ("shop.db", ("query",), "lookup")
    assert target.entry == " shop.db:query = lookup "


NOT_THE_FORM = "it is not of the form module:qualname[=name]"
RUNS_ON = "a module riemann-auto runs on: timing it would have riemann-auto time itself"


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("shop.db", NOT_THE_FORM),
        ("shop.db.query", NOT_THE_FORM),
        (":query", NOT_THE_FORM),
        ("shop.db:", NOT_THE_FORM),
        ("=name", NOT_THE_FORM),
        ("shop-db:query", "'shop-db' is not a module name"),
        ("shop..db:query", "'shop..db' is not a module name"),
        ("shop.db:Repo.find()", "'Repo.find()' is not a qualified name (Class.method, Class.*)"),
        ("shop.db:*", "'*' is not a qualified name (Class.method, Class.*)"),
        ("shop.db:Repo.*.get", "'Repo.*.get' is not a qualified name (Class.method, Class.*)"),
        (
            "__main__:main",
            "__main__ cannot be a target: it runs as a script before it could be patched; "
            "move the function into a module",
        ),
        ("builtins:len", f"builtins is {RUNS_ON}"),
        ("os.path:join", f"os.path is {RUNS_ON}"),
        ("riemann_auto.probe:Probe.record", f"riemann_auto.probe is {RUNS_ON}"),
        ("shop.db:query=", "the name after '=' is empty"),
        ("shop.db:query= ", "the name after '=' is empty"),
    ],
)
def test_a_malformed_or_refused_entry_says_why(entry, why):
    with pytest.raises(ValueError) as raised:
        parse(entry)
    assert str(raised.value) == why


def test_a_module_whose_name_only_starts_like_a_refused_one_is_accepted():
    assert parse("osmosis:run").module == "osmosis"
    assert parse("jsonschema:validate").module == "jsonschema"


def test_bad_entries_are_skipped_in_one_line_each_and_the_good_ones_kept_in_order():
    lines: list[str] = []
    targets = parse_all(("b:g", "nonsense", "a:f", "os:getcwd"), lines.append)
    assert [t.entry for t in targets] == ["b:g", "a:f"]
    assert lines == [
        f"RIEMANN_TARGETS entry 'nonsense' skipped: {NOT_THE_FORM}",
        f"RIEMANN_TARGETS entry 'os:getcwd' skipped: os is {RUNS_ON}",
    ]


def module_of(**attributes: object) -> types.ModuleType:
    module = types.ModuleType("shop.fake")
    for name, value in attributes.items():
        setattr(module, name, value)
    return module


class Repo:
    def find(self):
        pass

    @staticmethod
    def make():
        pass

    COLOR = "red"


def query():
    pass


def test_a_target_resolves_to_the_function_and_where_it_lives():
    module = module_of(query=query, Repo=Repo)
    [(owner, attribute, value, qualname)] = resolve(module, parse("shop.fake:query"))
    assert (owner, attribute, value, qualname) == (module, "query", query, "query")
    [(owner, attribute, value, _)] = resolve(module, parse("shop.fake:Repo.make"))
    assert owner is Repo and attribute == "make" and isinstance(value, staticmethod)


def test_a_star_names_every_method_a_class_defines():
    found = resolve(module_of(Repo=Repo), parse("shop.fake:Repo.*"))
    assert sorted(qualname for _, _, _, qualname in found) == ["Repo.find", "Repo.make"]


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("shop.fake:missing", "module shop.fake has no attribute 'missing'"),
        ("shop.fake:Shop.find", "module shop.fake has no attribute 'Shop'"),
        ("shop.fake:Repo.save", "class Repo in module shop.fake has no 'save'"),
        ("shop.fake:query.*", "'query' in module shop.fake is not a class"),
        (
            "shop.fake:Repo.COLOR",
            "'Repo.COLOR' in module shop.fake is a builtins.str, not a function or method",
        ),
        ("shop.fake:Repo", "'Repo' in module shop.fake is a class, not a function or method"),
        ("shop.fake:date.today", "date is a built-in type, whose methods cannot be timed"),
    ],
)
def test_a_target_that_names_no_function_says_why(entry, why):
    import datetime

    module = module_of(query=query, Repo=Repo, date=datetime.date)
    with pytest.raises(LookupError) as raised:
        resolve(module, parse(entry))
    assert str(raised.value) == why
