"""The project's error types: every refusal of bad input is one of these.

The CLI turns a ``NetbenchError`` into one line on stderr and exit code 2;
anything else is a bug and keeps its traceback.
"""


class NetbenchError(Exception):
    """Base class of every error that names a problem with the user's input."""


class ConfigError(NetbenchError, ValueError):
    """An impossible or malformed setting (rank <= 0, N_s > N_t, k outside (0, 1], ...)."""


class DataError(NetbenchError):
    """A dataset that is missing, empty or malformed."""


class ModelError(NetbenchError):
    """A model path or id that cannot be loaded as a causal language model."""


class CodecError(NetbenchError):
    """A payload that cannot be decoded: truncated, corrupted or inconsistent."""


class WireFormatError(CodecError):
    """A message whose frame (magic, version, header, checksum, length) is wrong."""


class RunDirError(NetbenchError):
    """A run directory that is missing, incomplete, corrupt or from a newer format."""


class OutputError(NetbenchError):
    """An output location that cannot be created or written (checked before any work)."""
