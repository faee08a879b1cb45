"""Releases: built once from a commit, stored once in the artifacts bucket.

``build`` makes the deterministic Lambda zips (the migrator's carries the
migrations), the infrastructure archive and the manifest; ``store`` publishes, loads and
fetches them by digest; ``make`` is the ``smartstack build`` use-case.
"""
