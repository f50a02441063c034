"""satrec: satellite image collections to MXNet RecordIO, and SageMaker image classifiers trained on them.

The package root imports nothing heavy: the CDK app and control-plane Lambdas import the core
without Pillow, rasterio or MXNet.
"""

__version__ = "0.1.0"
