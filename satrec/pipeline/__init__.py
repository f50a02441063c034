"""The cloud training pipeline's framework-free core.

Everything the Step Functions state machine decides is decided here, in plain typed Python:
the execution input (:mod:`.inputs`), the plan (:mod:`.plan`), dataset validation
(:mod:`.validate`), the training preflight (:mod:`.preflight`, :mod:`.quotas`), the raw
``createTrainingJob`` parameters (:mod:`.training_job`, :mod:`.image_uris`) and the report
(:mod:`.report`). The Lambda handlers in ``lambdas/pipeline`` only parse events and call these;
the CDK construct imports only the pure parts (no boto3 at import time).
"""
