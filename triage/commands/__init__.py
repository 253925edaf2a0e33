"""The subcommands, one module each; `triage.commands.parser` builds the command line of them.

Nothing is imported here: a served `triage filter` imports its own module and no other.
"""
