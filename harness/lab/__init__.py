"""The lab: a scenario loaded and planned into cells, each run as topology up → steps → topology
down, recording into the timeline. Drives and records; never judges."""
