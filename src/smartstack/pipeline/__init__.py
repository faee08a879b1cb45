"""The deploy pipeline and what it records.

``deploy`` runs the steps (fetch, migrate, infra, app, smoke) under a lease;
each step that is more than a few lines has its own module (``app_step``,
``migrations``, ``smoke``).  ``ledger`` is the deployments table (attempts,
approvals, leases), ``gates`` decides whether a release may go to an
environment, ``promotion`` holds approve, rollback, history, status and
unlock.  A new pipeline step goes in a module here and in ``deploy._Run``.
"""
