"""The `accel` command: one module per command group, shared options in `cli.options`."""
