"""The sandbox: a deterministic synthetic school behind a fake 直播云 openAPI server.

Submodules are imported explicitly (``pipeline.sandbox.school`` etc.); this package
file stays free of heavy imports.
"""
