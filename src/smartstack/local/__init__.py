"""The local platform: a moto server and a PostgreSQL server this tool owns."""
