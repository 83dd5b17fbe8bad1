"""The illustrative Hauts-de-France registry shipped with cpts_geo (see ``build.py``).

ILLUSTRATIVE: CPTS compositions are not public; this registry is built from EPCIs and is
not the real map of CPTS. Load it with :func:`cpts_geo.territories.load_example_registry`.
"""
