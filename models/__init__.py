"""Data shapes: the program and cohort file schemas, the stored tables, and their enums."""
