"""A local stand-in for the AWS side: moto resources, the patches for moto's interpreter gaps, and the
pipeline stack synthesized for them. Used by the functional/infra pipeline tests and by
``make demo-cloud`` (``python -m tests.cloudsim.demo_cloud``); never imported by the satrec package.
"""
