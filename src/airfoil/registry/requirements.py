"""The pip requirements of a logged model, pinned from what is installed, without a subprocess.

Without `pip_requirements`, `mlflow.sklearn.log_model` infers them by loading the model in a child
interpreter and recording what it imports: 7-13 s per logged model here, the largest single cost of
the register step. The model's own objects say the same thing: walk the estimator (Pipeline steps,
ColumnTransformer transformers, every estimator-valued parameter), map each class's top-level module
to the distribution that installs it, and pin the installed version. MLflow itself, scikit-learn,
skops (the serialization format), numpy, scipy and pandas are always in the list.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from importlib import metadata
from typing import Any

# Always needed to load an airfoil model: MLflow's pyfunc loader, the estimator API, the file format,
# and what scikit-learn computes with and pyfunc feeds it (what MLflow's own inference records too).
BASE = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")
# Modules every interpreter has: never a requirement.
_STDLIB = frozenset({"builtins", "__main__", "functools", "collections", "numbers", "typing"})


def pip_requirements(model: Any, *, extra: tuple[str, ...] = ()) -> list[str]:
    """`name==version` for the BASE distributions and the distribution of every class in `model`
    (e.g. `lightgbm` for an LGBMClassifier step), sorted; `extra` names more distributions."""
    names = set(BASE) | set(extra)
    for module in sorted(_modules(model)):
        names.update(_distributions_of(module))
    pinned = {}
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. a module shipped inside another distribution's wheel under another name
        pinned[_canonical(dist.metadata["Name"])] = f"{_canonical(dist.metadata['Name'])}=={dist.version}"
    return [pinned[k] for k in sorted(pinned)]


def _modules(obj: Any) -> set[str]:
    """Top-level module names of every object class reachable from `obj` through estimator params."""
    found: set[str] = set()
    for item in _walk(obj, set()):
        top = type(item).__module__.split(".", 1)[0]
        if top not in _STDLIB:
            found.add(top)
    return found


def _walk(obj: Any, seen: set[int]) -> Iterator[Any]:
    if id(obj) in seen or obj is None or isinstance(obj, str | bytes | int | float | bool):
        return
    seen.add(id(obj))
    if isinstance(obj, list | tuple):
        for item in obj:
            yield from _walk(item, seen)
        return
    if isinstance(obj, dict):
        for item in obj.values():
            yield from _walk(item, seen)
        return
    yield obj
    get_params = getattr(obj, "get_params", None)
    if callable(get_params):
        try:
            params = get_params(deep=False)
        except Exception:  # not an estimator's get_params after all
            return
        for value in params.values():
            yield from _walk(value, seen)
    # Fitted sub-estimators (ColumnTransformer.transformers_, a meta-estimator's estimators_)
    for attr in ("steps", "transformers_", "estimators_", "estimator_", "best_estimator_"):
        value = getattr(obj, attr, None) if _has_attr(obj, attr) else None
        if value is not None:
            yield from _walk(value, seen)


def _has_attr(obj: Any, attr: str) -> bool:
    try:
        return attr in vars(obj)
    except TypeError:
        return False


# Modules whose distribution has another name, looked up without scanning every installed package.
_KNOWN = {"sklearn": ("scikit-learn",), "skops": ("skops",)}


def _distributions_of(module: str) -> tuple[str, ...]:
    """The distributions that install top-level `module`: itself when a distribution has its name
    (numpy, lightgbm), else from the map of every installed package (read once: ~1 s)."""
    if module in _KNOWN:
        return _KNOWN[module]
    try:
        metadata.distribution(module)
        return (module,)
    except metadata.PackageNotFoundError:
        return tuple(_distributions().get(module, ()))


@cache
def _distributions() -> dict[str, list[str]]:
    return dict(metadata.packages_distributions())


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-")
