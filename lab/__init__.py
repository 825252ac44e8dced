"""Ortholab compute layer.

Pure computation (torch, numpy, scipy, scikit-learn, pandas, umap-learn). Nothing in this
package imports a UI library; the views in :mod:`widgets` read plain data from here.
"""

__version__ = "0.1.0"
