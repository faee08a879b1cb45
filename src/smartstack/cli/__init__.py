"""Thin Typer commands: parse, call one library function, render.

One module per group of commands (``stack``, ``local``, ``release``,
``deploy``, ``secrets``), registered in ``app``; ``output`` is the one
renderer (every byte passes the redactor; ``--json`` envelopes).  A new
command goes in the module of its group and calls a use-case below.
"""
