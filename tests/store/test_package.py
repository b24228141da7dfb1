"""The package's exports: every name resolves to what its module defines, whatever is loaded."""

import importlib
import pkgutil
import types

import store


def test_no_submodule_shadows_an_exported_name():
    # A submodule named like an export (store/rollback.py beside the function rollback) would
    # replace the export on the package once anything imports the submodule.
    for info in pkgutil.iter_modules(store.__path__):
        importlib.import_module(f"store.{info.name}")
    for name in store.__all__:
        value = getattr(store, name)
        assert not isinstance(value, types.ModuleType), name


def test_each_export_is_the_object_its_own_module_defines():
    for name in store.__all__:
        value = getattr(store, name)
        module = importlib.import_module(value.__module__)
        assert module.__name__.startswith("store."), name
        assert getattr(module, name) is value, name
