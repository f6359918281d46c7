"""The Werkzeug reloader's child dies with the reloader's parent, even a SIGKILLed one.

The harness kills its own children when it is SIGKILLed (PR_SET_PDEATHSIG, set by its
supervisor), but the reloader's child is a grandchild: it would go on running, and
listening on the socket it inherited, with parent 1 (issue 13). Call this first thing in
both processes: the parent leaves its pid in the environment the reloader copies into
the child, and the child asks the kernel for SIGKILL when that parent goes.
"""
from __future__ import annotations

import ctypes
import os
import signal

PARENT_ENV = "SIOLAB_RELOADER_PARENT"
_PR_SET_PDEATHSIG = 1


def die_with_reloader_parent() -> None:
    if os.environ.get("WERKZEUG_RUN_MAIN") != "true":      # the reloader's parent (or no reloader)
        os.environ[PARENT_ENV] = str(os.getpid())
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:     # not Linux: nothing to ask for
        return
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):    # the parent died before the request took effect
        os._exit(1)
