"""The shipped program definitions (`<id>.yaml`), found when no programs/ folder has one."""
