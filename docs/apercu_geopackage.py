"""Picture of a GeoPackage written by cpts_geo, drawn with the style embedded in it.

Reads the QGIS styles of the ``layer_styles`` table (QML), and draws each layer with the
colours, outline and labels that QGIS uses when it opens the file: the CPTS coloured by stage
with their legend in stage order, the zones blanches in grey, the CPTS names as labels.

    python docs/apercu_geopackage.py territoires.gpkg docs/apercu_geopackage.png
"""

from __future__ import annotations

import sqlite3
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pyogrio
from matplotlib.patches import Patch


def _colour(text: str):
    r, g, b, a = (int(x) for x in text.split(","))
    return (r / 255, g / 255, b / 255, a / 255)


def _symbols(root):
    out = {}
    for sym in root.iter("symbol"):
        opts = {o.get("name"): o.get("value") for o in sym.iter("Option") if o.get("name")}
        out[sym.get("name")] = (_colour(opts["color"]), _colour(opts["outline_color"]),
                                float(opts["outline_width"]))
    return out


def draw(path: Path, ax) -> list[Patch]:
    con = sqlite3.connect(path)
    styles = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault"))
    con.close()
    handles = []
    for layer in ("zones_blanches", "cpts"):  # as in QGIS' layer order: CPTS over the grey
        root = ET.fromstring(styles[layer])
        frame = pyogrio.read_dataframe(path, layer=layer)
        renderer = root.find("renderer-v2")
        symbols = _symbols(root)
        mm = 72 / 25.4  # outline widths are in millimetres
        if renderer.get("type") == "singleSymbol":
            fill, edge, width = symbols["0"]
            frame.plot(ax=ax, color=fill, edgecolor=edge, linewidth=width * mm * 0.5)
            handles.append(Patch(facecolor=fill, edgecolor=edge, label="Zone blanche (hors CPTS)"))
            continue
        field = renderer.get("attr")
        for cat in renderer.iter("category"):
            fill, edge, width = symbols[cat.get("symbol")]
            part = frame[frame[field] == cat.get("value")]
            if len(part):
                part.plot(ax=ax, color=fill, edgecolor=edge, linewidth=width * mm * 0.5)
            handles.append(Patch(facecolor=fill, edgecolor=edge, label=cat.get("label")))
        labels = root.find("labeling/settings/text-style")
        if root.get("labelsEnabled") == "1" and labels is not None:
            name = labels.get("fieldName")
            size = float(labels.get("fontSize")) * 0.6
            for geom, text in zip(frame.geometry.representative_point(), frame[name]):
                short = str(text).replace("CPTS ", "").replace(" (illustratif)", "")
                ax.annotate(short, (geom.x, geom.y), ha="center", va="center", fontsize=size,
                            color="#232323",
                            path_effects=[matplotlib.patheffects.withStroke(linewidth=1.5,
                                                                           foreground="white")])
    return handles


def main(argv=None) -> None:
    import matplotlib.patheffects  # noqa: F401

    argv = sys.argv[1:] if argv is None else argv
    src, dst = Path(argv[0]), Path(argv[1])
    fig, ax = plt.subplots(figsize=(7.2, 7.2))
    handles = draw(src, ax)
    ax.set_axis_off()
    ax.set_title("GeoPackage de « cpts-geo territoires », avec son style embarqué\n"
                 "(registre illustratif des Hauts-de-France, Lambert-93)", fontsize=9)
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, title="Étape",
              title_fontsize=8,
              frameon=True)
    fig.savefig(dst, dpi=110, bbox_inches="tight")


if __name__ == "__main__":
    main()
