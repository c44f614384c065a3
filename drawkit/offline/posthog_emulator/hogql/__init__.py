"""HogQL for the emulator: parse (:mod:`.parser`), print to ClickHouse SQL (:mod:`.printer`)."""
