"""Infrastructure: the OpenTofu stacks and the tools that run them.

``toolchain`` finds the pinned binaries, ``tofu`` runs them, ``state_backend``
bootstraps the S3/DynamoDB/KMS backend, ``stack`` plans and applies a stack,
``stack_inputs`` makes the inputs a stack reads but cannot make itself, and
``isolation`` evaluates the environment roles' policies with a real IAM
evaluator.
"""
