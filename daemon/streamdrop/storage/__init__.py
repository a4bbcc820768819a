"""The task database: engine and migrations, tables, the repository (all SQL), task states."""
