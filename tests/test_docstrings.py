"""numpydoc validation of every public docstring, and API-page coverage."""
# License: BSD 3 clause

import importlib
import inspect
import re
from pathlib import Path

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

PUBLIC_MODULES = [
    "sklcm",
    "sklcm.datasets",
    "sklcm.metrics",
    "sklcm.model_selection",
    "sklcm.nn",
    "sklcm.preprocessing",
    "sklcm.utils",
    "sklcm.evaluation",
    "sklcm.experiments",
    "sklcm.distributed",
]
API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"

# numpydoc checks that sklcm does not follow, with the reason.
IGNORED_EVERYWHERE = {
    # An extended summary is welcome but not required for short helpers.
    "ES01",
    # "See Also" is written where there is a useful neighbour, not everywhere.
    "SA01",
    # Returns are named ("self : object", "Z : ndarray ..."), as in
    # scikit-learn; numpydoc wants a bare type for a single return value.
    "RT02",
}
# Methods are illustrated by the Examples section of their class (the class
# docstring is what the API page shows first), as in scikit-learn.
IGNORED_FOR_METHODS = {"EX01"}
# Known gaps, each to be fixed in its own module; strict, so that a fix makes
# the test fail until the entry is removed here.
KNOWN_FAILURES: dict[str, str] = {}


def _public_names(module_name):
    module = importlib.import_module(module_name)
    return [(module, name) for name in module.__all__ if not name.startswith("__")]


def _own_public_members(cls):
    """Methods and properties defined by the class itself, not inherited."""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (classmethod, staticmethod, property)) or (
            inspect.isfunction(member)
        ):
            yield name


def _documented_objects():
    """(import path, kind, object) of every public class, function and method."""
    seen, found = set(), []
    for module_name in PUBLIC_MODULES:
        for module, name in _public_names(module_name):
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # data such as experiments.SETTINGS
            path = f"{obj.__module__}.{obj.__qualname__}"
            if path in seen:  # re-exported by more than one __all__
                continue
            seen.add(path)
            found.append((path, "class" if inspect.isclass(obj) else "function", obj))
            if inspect.isclass(obj):
                for member in _own_public_members(obj):
                    found.append((f"{path}.{member}", "method", obj))
    return found


def _ignored(kind, obj):
    ignored = set(IGNORED_EVERYWHERE)
    if kind == "method":
        ignored |= IGNORED_FOR_METHODS
    if kind == "class" and "__init__" not in vars(obj):
        # torch.nn.Module subclasses without their own __init__ inherit the
        # generic signature (*args, **kwargs); they take no parameters.
        ignored.add("PR01")
    return ignored


def _params(documented):
    return [
        pytest.param(
            *d,
            id=d[0],
            marks=[pytest.mark.xfail(reason=KNOWN_FAILURES[d[0]], strict=True)]
            if d[0] in KNOWN_FAILURES
            else [],
        )
        for d in documented
    ]


DOCUMENTED = _documented_objects()


def test_documented_objects_found():
    # guards against a silently empty parametrisation
    assert len(DOCUMENTED) > 40


@pytest.mark.parametrize("path, kind, obj", _params(DOCUMENTED))
def test_docstring_is_valid_numpydoc(path, kind, obj):
    result = numpydoc_validate.validate(path)
    ignored = _ignored(kind, obj)
    errors = [f"{code}: {msg}" for code, msg in result["errors"] if code not in ignored]
    assert not errors, f"{path}:\n  " + "\n  ".join(errors)


@pytest.mark.parametrize(
    "path, kind, obj", _params([d for d in DOCUMENTED if d[1] != "method"])
)
def test_public_docstring_has_doctest_example(path, kind, obj):
    # The doctests themselves run in the suite through --doctest-modules.
    doc = inspect.getdoc(obj) or ""
    assert re.search(r"^Examples\n-{8}\n", doc, re.M), f"{path} has no Examples"
    assert ">>> " in doc.split("Examples", 1)[1], f"{path}: Examples has no doctest"


def _api_rst_names():
    text = API_RST.read_text(encoding="utf-8")
    return set(re.findall(r"^ {3}([A-Za-z_]\w*)\s*$", text, re.M))


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_api_reference(module_name):
    listed = _api_rst_names()
    missing = [
        f"{module_name}.{name}"
        for _, name in _public_names(module_name)
        if name not in listed
    ]
    assert not missing, f"add to the autosummary lists of docs/api.rst: {missing}"
