"""triage: sort networking mail into relationship-building and cold solicitation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("triage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
