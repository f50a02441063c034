"""Framework-free core of the cloud conversion: upload selection, batch documents, per-dataset
settings, ledger entries and the work one Batch array child does.

Nothing here imports boto3, Pillow or a Lambda framework at module level: S3 and Batch clients
are passed in, so moto can start before any client exists and the Lambda can import this
package without the image extra.
"""
