"""The shipped cohort (`cda-2024.yaml`), used when the working directory has no cohorts/ one."""
