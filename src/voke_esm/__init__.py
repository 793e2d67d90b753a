from importlib.metadata import version

# One place for the version: the package's metadata, from pyproject.toml.
__version__ = version("voke-esm")
