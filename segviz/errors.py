"""Exceptions raised by segviz.

Every message names the file (or argument) at fault, what was expected and what was found, so that a
user can fix the input without reading the source.
"""

from __future__ import annotations


class SegvizError(Exception):
    """Base class of every error segviz raises on purpose."""


class ClassTableError(SegvizError):
    """A class table (CSV file or preset name) is malformed."""


class MaskError(SegvizError):
    """A mask file cannot be read or decoded into class ids."""


class DatasetError(SegvizError):
    """A dataset folder does not follow the layout segviz expects."""


class OptionError(SegvizError, ValueError):
    """An option's value is malformed or out of its range (the CLI exits with status 2)."""


class OutputPathError(OptionError):
    """An output path that segviz refuses: inside a dataset, or a place no file can be written."""


class OutsideRootError(DatasetError):
    """A file or folder whose real path (links resolved) leaves the allowed data root."""
