"""Imported files as stages: parse (per format), check and stage (``staging``), record (``run``)."""
