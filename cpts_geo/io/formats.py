"""Output formats by extension, and the checks made before anything is computed or written."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "LAYER_FORMATS",
    "TABLE_FORMATS",
    "OutputError",
    "check_writable",
    "layer_format",
    "table_format",
]

#: Layer formats, by extension.
LAYER_FORMATS = {".gpkg": "GeoPackage", ".parquet": "GeoParquet", ".geojson": "GeoJSON",
                 ".shp": "Shapefile"}


#: Table formats, by extension.
TABLE_FORMATS = {".csv": "CSV (point-virgule, virgule décimale)", ".xlsx": "classeur Excel"}



class OutputError(OSError):
    """An output cannot be written (folder missing or read-only, disk full, database refused)."""


# --------------------------------------------------------------------------- checks


def _extension(path: str | Path) -> str:
    return Path(path).suffix.lower()



def layer_format(path: str | Path, *, shapefile: bool = True) -> str:
    """The layer format of ``path`` from its extension; a French error for any other.

    Parameters
    ----------
    path : str or Path
        The file to write.
    shapefile : bool, default True
        Accept ``.shp`` (False where a Shapefile cannot hold the output).

    Returns
    -------
    str
        ``"GeoPackage"``, ``"GeoParquet"``, ``"GeoJSON"`` or ``"Shapefile"``.

    Examples
    --------
    >>> layer_format("territoires.gpkg")
    'GeoPackage'
    >>> layer_format("territoires.csv")
    Traceback (most recent call last):
    ...
    ValueError: territoires.csv : extension « .csv » non prise en charge pour des couches ; formats possibles : .gpkg (GeoPackage), .parquet (GeoParquet), .geojson (GeoJSON), .shp (Shapefile).
    """
    ext = _extension(path)
    allowed = {k: v for k, v in LAYER_FORMATS.items() if shapefile or k != ".shp"}
    if ext not in allowed:
        listed = ", ".join(f"{k} ({v})" for k, v in allowed.items())
        raise ValueError(f"{Path(path).name} : extension « {ext or '(aucune)'} » non prise en charge "
                         f"pour des couches ; formats possibles : {listed}.")
    return allowed[ext]



def table_format(path: str | Path) -> str:
    """The table format of ``path`` (``.csv`` or ``.xlsx``); a French error for any other.

    Parameters
    ----------
    path : str or Path
        The file to write.

    Returns
    -------
    str
        The French name of the format, as listed in :data:`TABLE_FORMATS`.

    Examples
    --------
    >>> table_format("financement.xlsx")
    'classeur Excel'
    """
    ext = _extension(path)
    if ext not in TABLE_FORMATS:
        listed = ", ".join(f"{k} ({v})" for k, v in TABLE_FORMATS.items())
        raise ValueError(f"{Path(path).name} : extension « {ext or '(aucune)'} » non prise en charge "
                         f"pour un tableau ; formats possibles : {listed}.")
    return TABLE_FORMATS[ext]


_OS_REASONS = {
    errno.ENOSPC: "disque plein",
    errno.EDQUOT: "quota disque dépassé",
    errno.EACCES: "droits d'écriture insuffisants",
    errno.EPERM: "droits d'écriture insuffisants",
    errno.EROFS: "système de fichiers en lecture seule",
    errno.ENOTDIR: "un fichier porte le nom d'un des dossiers du chemin",
    errno.ENOENT: "dossier introuvable",
    errno.EEXIST: "un fichier porte le nom d'un des dossiers du chemin",
    errno.EISDIR: "un dossier porte le nom du fichier",
}



def os_reason(err: OSError) -> str:
    """A short French reason for an operating-system error (disk full, read-only…).

    Parameters
    ----------
    err : OSError
        The error raised by the operating system.

    Returns
    -------
    str
        A French reason for the known ``errno`` values, else the system's own message.

    Examples
    --------
    >>> os_reason(OSError(errno.ENOSPC, "No space left on device"))
    'disque plein'
    """
    return _OS_REASONS.get(err.errno, err.strerror or str(err)) if err.errno is not None \
        else err.strerror or str(err)



def check_writable(*paths: str | Path) -> None:
    """Check, before any computing, that each of ``paths`` can be written.

    The folder is created when missing (as the writers do); a small file is created and
    removed in it. Raises :class:`OutputError` with one French sentence otherwise. An existing
    file under the final name is left untouched.

    Parameters
    ----------
    *paths : str or Path
        The files that will be written.

    Returns
    -------
    None

    Raises
    ------
    OutputError
        The folder cannot be created or written, or a path is a folder.

    Examples
    --------
    >>> import tempfile, os
    >>> check_writable(os.path.join(tempfile.mkdtemp(), "sortie", "t.gpkg"))
    """
    for path in paths:
        folder = Path(path).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".cpts_geo_test.", dir=folder)
            try:
                os.write(fd, b"0" * 4096)
            finally:
                os.close(fd)
                os.unlink(name)
        except OSError as err:
            raise OutputError(f"Impossible d'écrire dans le dossier {folder} ({os_reason(err)}) : "
                              "choisissez un autre dossier de sortie.") from None
        if Path(path).is_dir():
            raise OutputError(f"{path} est un dossier : donnez un nom de fichier.")



@contextlib.contextmanager
def _disk_space(path: Path) -> Iterator[None]:
    """Say « disque plein » when a writer fails on a full disk (GDAL only says the commit failed);
    checked while the temporary file still fills the disk."""
    import shutil

    try:
        yield
    except OutputError:
        raise
    except Exception:
        try:
            full = shutil.disk_usage(path.parent).free < 1_000_000
        except OSError:
            full = False
        if full:
            raise OutputError(f"Écriture de {path} impossible (disque plein) ; aucun fichier partiel "
                              "n'a été laissé.") from None
        raise
