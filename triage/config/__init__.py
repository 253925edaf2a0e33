"""The configuration file: TOML in, frozen dataclasses out, validated once at start-up.

Every problem becomes a `ConfigError` with one line that names the file, the key and what was
expected, for example::

    config error: /home/me/.config/triage/config.toml: account 'personal' key 'port':
    expected an integer 1-65535, got "abc"

(printed on one line). The file holds no secrets: passwords live in the OS keyring or come from
an account's `password_command` (see `triage.mail.credentials`).

This package is the configuration's public face: import from `triage.config`, not from its
modules. `values` holds the dataclasses, `tables` reads one TOML table and words every error,
`accounts` reads the `[[account]]` tables, `sections` the others, `loading` the file as a whole.

Adding a section later: write a frozen dataclass with defaults for every field in `values`, a
`read_<section>(table)` function in `sections` that reads each key through the `Table` helpers
(which check the type, the range and report unknown keys), and one line in
`loading._read_config`. Document the keys in `config.example.toml`.
"""

from triage.config.loading import add_config_argument, load_config, parse_config
from triage.config.sections import is_valid_keyword
from triage.config.values import (
    AUTHS,
    DEFAULT_PORTS,
    LABEL_MODES,
    LIST_KINDS,
    MODES,
    TLS_MODES,
    Account,
    Auth,
    Config,
    DaemonConfig,
    DraftsConfig,
    LabelMode,
    LabelNames,
    LabelSet,
    LabelStyle,
    LearningConfig,
    ListKind,
    ListsConfig,
    Mode,
    TlsMode,
)

__all__ = [
    "AUTHS",
    "DEFAULT_PORTS",
    "LABEL_MODES",
    "LIST_KINDS",
    "MODES",
    "TLS_MODES",
    "Account",
    "Auth",
    "Config",
    "DaemonConfig",
    "DraftsConfig",
    "LabelMode",
    "LabelNames",
    "LabelSet",
    "LabelStyle",
    "LearningConfig",
    "ListKind",
    "ListsConfig",
    "Mode",
    "TlsMode",
    "add_config_argument",
    "is_valid_keyword",
    "load_config",
    "parse_config",
]
