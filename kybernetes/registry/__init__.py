"""Per-kind strategies: defaults, validation, table columns and selectable fields."""
