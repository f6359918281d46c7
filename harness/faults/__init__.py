"""Fault back ends: the proxy (Toxiproxy API) and process faults."""
