"""pypapo: a private, static Python package index, regenerated incrementally on storage events."""

from pypapo.build import build
from pypapo.refresh import refresh
from pypapo.report import Report
from pypapo.storage import Storage, open_storage

__all__ = ["Report", "Storage", "build", "open_storage", "refresh"]
__version__ = "0.1.0"
