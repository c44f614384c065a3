"""Names of a package loaded on first use (PEP 562), so importing one small module of a
package does not import everything the package offers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str], namespace: dict[str, Any]
                 ) -> Callable[[str], Any]:
    """A module ``__getattr__`` that loads ``name`` from ``package.<exports[name]>`` the
    first time it is asked for and keeps it in ``namespace``."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{exports[name]}"), name)
        namespace[name] = value
        return value

    return __getattr__
