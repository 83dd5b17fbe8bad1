"""Build hook: the build scripts of the embedded data stay out of the wheel.

Everything else is in ``pyproject.toml``. ``cpts_geo._data`` is the folder ``data/communes``
(the embedded tables, read by :mod:`cpts_geo.data.communes`); the scripts beside them
(``build.py``, ``build_topology.py``…) rebuild those tables from their sources and are tools of
the repository, not modules of the installed package. They stay in the sdist.
"""

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_ONLY = {"cpts_geo._data"}


class BuildPy(build_py):
    """``build_py`` that ships the files of :data:`DATA_ONLY` packages but none of their modules."""

    def find_package_modules(self, package, package_dir):
        """Modules of ``package``: none for a data-only package.

        Parameters
        ----------
        package : str
            Dotted name of the package.
        package_dir : str
            Its folder.

        Returns
        -------
        list of tuple
            ``(package, module, file)`` for each module to ship.
        """
        if package in DATA_ONLY:
            return []
        return super().find_package_modules(package, package_dir)


setup(cmdclass={"build_py": BuildPy})
