"""triage: sort networking mail into relationship-building and cold solicitation."""


def version() -> str:
    """The installed version, looked up only when asked: importlib.metadata costs a mail
    filter's start-up 20 ms for a string it never prints."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("triage")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
