"""The shipped operator scenarios (`accel demo` replays `cda-2024-rehearsal.yaml`)."""
