"""The AWS boundary: the one client factory and the calls more than one use-case makes.

``target`` builds every boto3 client (local and real AWS differ only by the
``AWS_*`` variables it holds) and knows the caller's identity; ``errors``
reads a ``ClientError``; ``lambda_api`` reads functions and moves their
``live`` alias.  A new AWS call that only one use-case needs stays with that
use-case; one that several need comes here.
"""
