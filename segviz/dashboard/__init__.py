"""The Streamlit dashboard: the only part of segviz that imports streamlit.

``app.py`` (or ``segviz app``) runs :func:`segviz.dashboard.main.main`; see the README's Development
section for the layout (state, cache, sidebar, widgets, one module per view).
"""
