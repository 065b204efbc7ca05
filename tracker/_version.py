"""The package version, in a module of its own so that modules below the API (the query
layer, model manifests) can name it without importing the whole ``tracker`` package."""

__version__ = "0.1.0"
