"""The ``dataex`` command line: thin Typer commands over the Exchange services."""
