"""Make packages absent from one server process, as if pip had never installed them.

Put this folder first on the child's PYTHONPATH and name the top-level modules in
SIOLAB_ABSENT_MODULES (comma-separated); Python runs this file at start-up (the `site`
module imports `sitecustomize`), before any app code, and gunicorn's forked workers
inherit it. Used by mode `gthread-nosw` (SIOLAB_ABSENT_MODULES=simple_websocket):
python-engineio requires simple-websocket, so pip always installs it into the venv.

"Absent" means exactly what an uninstalled package looks like:
- `import simple_websocket` raises the import system's own
  `ModuleNotFoundError: No module named 'simple_websocket'` (no finder returns a spec);
- `importlib.util.find_spec("simple_websocket")` returns None;
- `importlib.metadata` finds no distribution that provides it (`simple-websocket`).
Every finder on `sys.meta_path` is wrapped so that it declines the hidden names (a single
finder in front cannot make the finders behind it decline). Other names go through untouched.
A `sitecustomize` later on sys.path (none in this venv) is shadowed by this one.
"""
from __future__ import annotations

import os
import sys


def _names() -> frozenset[str]:
    raw = os.environ.get("SIOLAB_ABSENT_MODULES", "")
    return frozenset(n.strip() for n in raw.split(",") if n.strip())


class _Declining:
    """Wraps one meta-path finder; declines the absent modules and their submodules."""

    def __init__(self, finder, absent: frozenset[str]):
        self._finder = finder
        self._absent = absent

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self._absent:
            return None
        find_spec = getattr(self._finder, "find_spec", None)
        return find_spec(name, path, target) if find_spec is not None else None

    def find_distributions(self, context=None):
        find = getattr(self._finder, "find_distributions", None)
        if find is None:
            return iter(())
        if context is None:
            return (d for d in find() if not self._hidden(d))
        return (d for d in find(context) if not self._hidden(d))

    def _hidden(self, dist) -> bool:
        """A distribution that provides an absent module (top_level.txt), or is named like one."""
        try:
            name = dist.metadata["Name"] or ""
            top_level = (dist.read_text("top_level.txt") or "").split()
        except Exception:  # noqa: BLE001 -- a broken dist-info is not ours to judge
            return False
        return bool(self._absent.intersection(top_level)) or \
            name.lower().replace("-", "_").replace(".", "_") in self._absent

    def invalidate_caches(self):
        invalidate = getattr(self._finder, "invalidate_caches", None)
        if invalidate is not None:
            invalidate()

    def __getattr__(self, attr):
        return getattr(self._finder, attr)

    def __repr__(self) -> str:
        return f"<declining {sorted(self._absent)}: {self._finder!r}>"


def install(absent: frozenset[str]) -> None:
    if not absent:
        return
    for name in list(sys.modules):
        if name.partition(".")[0] in absent:
            del sys.modules[name]
    sys.meta_path[:] = [f if isinstance(f, _Declining) else _Declining(f, absent) for f in sys.meta_path]


install(_names())
