"""Ortholab views: Panel + Plotly (+ ipywidgets in notebooks) over :mod:`lab`.

Dependencies point one way: widgets imports lab, never the reverse.
"""
