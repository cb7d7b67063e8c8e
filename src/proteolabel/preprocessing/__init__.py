"""The method's preprocessing as a fitted scikit-learn transformer."""

from proteolabel.preprocessing._preprocessor import Preprocessor

__all__ = ["Preprocessor"]
