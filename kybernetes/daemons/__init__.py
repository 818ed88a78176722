"""Process assembly: which components a `kyb` subcommand starts, in which order."""
