"""The ``propolis`` command line."""
