"""The local platform: the AWS stand-in on one machine, and its main job.

``moto`` starts the moto server through ``moto_server`` (our launcher, which
fixes where moto departs from AWS, with ``rds_postgres`` making RDS instances
real databases), ``postgres`` runs PostgreSQL, ``processes`` owns PIDs and
ports, ``platform`` is ``local up/down/status``, ``lambda_runner`` runs a
Lambda zip in the RIE, and ``provision`` is ``smartstack up`` (start,
bootstrap, apply every stack).
"""
