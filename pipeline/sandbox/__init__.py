"""The sandbox: a deterministic synthetic school behind a fake 直播云 openAPI server.

Submodules are imported explicitly (``pipeline.sandbox.school`` etc.); this package
file stays free of heavy imports.  The modules read bottom-up, each importing only
the ones before it (tests/sandbox/test_layering.py keeps it so): ``errors``,
``readings``, ``forms``, ``drift``, ``faults``, ``config``; ``school``; ``platform``; ``handlers``;
``server``, ``protocol``; ``runner``; ``cli`` on top (``truth`` sits on ``school``).
"""
