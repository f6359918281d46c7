"""Client drivers: they only record into the timeline."""
