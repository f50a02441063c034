"""Container jobs, one module each, run as ``satrec job <name> ...`` (discovered by ``satrec.commands.job``).

A job module defines ``register(subparsers)``, adding its parser and setting ``run=<function(args) -> int>``,
exactly like a CLI command module. Add a job by adding a module here; nothing else changes.
Jobs run in the converter container on AWS Batch: exit 0 when every input was accounted for
(rejections included, they are data), 1 on a fatal error, so that Batch retries only real failures.
"""
