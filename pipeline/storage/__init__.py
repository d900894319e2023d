"""The data directory on S3-compatible object storage: objects with conditional PUTs (objects.py), and
the commit and publish protocol over a local working copy (remote.py).  No Dagster here."""
