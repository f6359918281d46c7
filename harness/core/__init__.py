"""The core every layer shares: the timeline (the one history of a run), the supervisor (every
process the lab starts, and the guarantee that it dies with the run), the protocol's vocabulary,
conditions, redaction, the versions in use and the lab's paths. Imports nothing above it."""
