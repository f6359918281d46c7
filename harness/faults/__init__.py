"""Faults: what the lab does to the server, the network between, or the clients' path.

`registry` holds the interface and the registry; each module below registers its faults by
name on import (as Toxiproxy's toxics do), and the registry imports none of them.
"""
from . import client, network, process  # noqa: F401  (they register their faults)
from .registry import FAULTS, Fault, FaultError, build_fault, register

__all__ = ["FAULTS", "Fault", "FaultError", "build_fault", "register"]
