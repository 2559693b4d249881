"""emolib: the helper library of the emotion-classification curriculum."""

__version__ = "0.1.0"
