"""lnplan: geospatial planning and resource allocation for Liaoning's disability services."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lnplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
