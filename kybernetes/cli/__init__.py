"""The `kyb` command line: one binary, a subcommand per component."""
