"""API machinery: errors, field paths, selectors, quantities and schemas; no I/O."""
