"""Open a GeoPackage written by cpts_geo in QGIS itself (PyQGIS, no window) and render it.

QGIS loads each layer with the default style stored in the GeoPackage's ``layer_styles``
table, exactly as when a user drags the file into QGIS. The script prints, as JSON, what QGIS
found (renderer, categories and their colours, labels, aliases, description) and saves a
picture of the map. Run it with the Python that has QGIS (Debian: ``apt-get install
python3-qgis qgis-providers``):

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 docs/apercu_geopackage_qgis.py t.gpkg apercu.png
"""

import json
import sys

from qgis.core import QgsApplication, QgsMapRendererParallelJob, QgsMapSettings, QgsVectorLayer
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def main(path: str, out: str, size: int = 700) -> dict:
    app = QgsApplication([], False)
    app.initQgis()
    found, layers = {}, []
    for name in ("cpts", "zones_blanches"):
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        if not layer.isValid():
            raise SystemExit(f"couche {name} illisible par QGIS")
        renderer = layer.renderer()
        categories = getattr(renderer, "categories", lambda: [])()
        found[name] = {
            "crs": layer.crs().authid(),
            "renderer": renderer.type(),
            "categories": [[c.value(), c.label(), c.symbol().color().name()] for c in categories],
            "color": renderer.symbol().color().name() if renderer.type() == "singleSymbol" else None,
            "labels": layer.labelsEnabled(),
            "aliases": {f.name(): layer.attributeDisplayName(i) for i, f in enumerate(layer.fields())},
            "description": layer.metadata().abstract(),
            "features": layer.featureCount(),
        }
        layers.append(layer)
    settings = QgsMapSettings()
    settings.setLayers(layers)  # CPTS drawn over the zones blanches
    settings.setDestinationCrs(layers[0].crs())
    extent = layers[0].extent()
    extent.combineExtentWith(layers[1].extent())
    extent.scale(1.03)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(out, "png")
    print(json.dumps(found, ensure_ascii=False), flush=True)
    del job, settings, layers, layer, renderer, categories
    app.exitQgis()
    return found


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
