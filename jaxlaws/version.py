"""The package's version, in a module of its own so that any module can name it without
importing the package's public surface (``jaxlaws/__init__.py``) above it."""

__version__ = "0.1.0"
