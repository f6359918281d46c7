"""The front doors: the `siolab` command, the pytest plugin, and `siolab doctor`."""
