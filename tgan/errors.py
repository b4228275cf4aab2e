"""The errors a user can act on. Kept in a module that imports nothing, so the quick CLI
commands (`tgan --help`, `tgan strategies`) can catch them without loading torch."""


class DataError(ValueError):
    """No usable image set; the message says what was wrong and what to do."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says which file and why."""
