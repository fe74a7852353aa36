"""bandts: band-limited convolutional networks for time series and images."""

__version__ = "0.1.0"
