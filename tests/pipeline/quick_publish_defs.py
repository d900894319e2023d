"""The shipped definitions with the publish automation looking every 5 s instead of 30 (the daemon
test waits for its ticks); everything else is ``pipeline.definitions.defs``."""

from pipeline.core.settings import Settings
from pipeline.definitions import build_defs

defs = build_defs(Settings.from_env(), publish_interval_s=5)
