"""Command line: ``cpts-geo``, a thin layer over the library.

Each sub-command is the function ``run(args) -> int`` of its own module (``cpts_geo.cli.<command>``),
imported only when it runs; messages are in French.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from cpts_geo.cli.options import _decimal, _dpi
from cpts_geo.cli.report import _print_problems, _printable

__all__ = [
    "main",
]

#: argparse's own messages, in French (the rest of the parser's text is ours).
_ARGPARSE_FRENCH = [
    (r"the following arguments are required: (.*)", r"arguments obligatoires manquants : \1"),
    (r"unrecognized arguments: (.*)", r"arguments non reconnus : \1"),
    (r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)",
     r"argument \1 : choix invalide : \2 (valeurs possibles : \3)"),
    (r"argument (\S+): invalid int value: (.*)", r"argument \1 : valeur invalide : \2 (attendu : un nombre entier)"),
    (r"argument (\S+): invalid float value: (.*)", r"argument \1 : valeur invalide : \2 (attendu : un nombre)"),
    (r"argument (\S+): expected one argument", r"argument \1 : une valeur est attendue"),
    (r"argument (\S+): expected at least one argument", r"argument \1 : au moins une valeur est attendue"),
    (r"argument (\S+): not allowed with argument (.*)", r"argument \1 : incompatible avec \2"),
    (r"ambiguous option: (\S+) could match (.*)", r"option ambiguë : \1 peut désigner \2"),
]


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout with the usage line in French (``usage : cpts-geo …``)."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup], prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "usage : " if prefix is None else prefix)


class _Parser(argparse.ArgumentParser):
    """argparse speaking French: headings, usage line, help option and error messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # argparse's own, passed on as they are
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self._positionals.title = "arguments"
        self._optionals.title = "options"
        self.add_argument("-h", "--help", action="help", help="afficher cette aide et quitter")

    def error(self, message: str) -> NoReturn:
        import re

        for pattern, french in _ARGPARSE_FRENCH:
            message = re.sub(pattern, french, message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog} : erreur : {message}\n")


if TYPE_CHECKING:
    from typing import TypeAlias

    #: What ``add_subparsers`` returns: each command adds its own parser to it.
    _Subparsers: TypeAlias = argparse._SubParsersAction[_Parser]


def _reading_args(p: argparse.ArgumentParser) -> None:
    """How to read the user's tables: --feuille, --couche, --sep, --encodage."""
    g = p.add_argument_group("lecture des fichiers (par défaut : détectée, et dite à l'écran)")
    g.add_argument("--feuille", metavar="NOM",
                   help="feuille du classeur XLSX à lire (nom, ou numéro à partir de 1) ; "
                        "nécessaire quand plusieurs feuilles ressemblent à la table")
    g.add_argument("--couche", metavar="NOM",
                   help="couche du GeoPackage à lire ; nécessaire quand il en a plusieurs")
    g.add_argument("--sep", metavar="CAR",
                   help="séparateur du CSV : ';', ',', tab ou '|'")
    g.add_argument("--encodage", metavar="NOM",
                   help="encodage du CSV : utf-8, windows-1252, utf-16…")


def _flow_table_args(p: argparse.ArgumentParser) -> None:
    """FLUX and how to read it: shared by the commands that take a flow table."""
    p.add_argument("flows", metavar="FLUX", help="table origine–destination CSV/XLSX/Parquet "
                   "(commune de résidence, commune de soins, volume)")
    p.add_argument("--mobpro", action="store_true",
                   help="FLUX est un fichier détail MOBPRO de l'INSEE (COMMUNE, DCLT, IPONDI)")
    p.add_argument("--profession", help="ne garder que cette profession (colonne profession de FLUX)")
    p.add_argument("--annee", help="ne garder que cette année (colonne année de FLUX)")


def _stage_arg(p: argparse.ArgumentParser, default: bool = True) -> None:
    """--etape (unless ``default`` is false) and --etapes: the stages of a registry."""
    if default:
        p.add_argument("--etape", metavar="ÉTAPE",
                       help="étape donnée aux CPTS dont le registre ne dit pas l'étape, ex. « ACI signé » "
                            "(sinon : « Étape non renseignée »)")
    p.add_argument("--etapes", metavar="FICHIER.csv",
                   help="correspondance des étapes telles que le registre les écrit : deux colonnes, "
                        "étape publiée puis étape (l'une des cinq du guide) ; les libellés DGOS, "
                        "Île-de-France et ARS courants sont déjà connus")


def _color_arg(p: argparse.ArgumentParser) -> None:
    """--couleur: what colours the CPTS of a map."""
    p.add_argument("--couleur", metavar="COULEUR",
                   help="couleur des CPTS : etape, taille, cpts (une couleur par CPTS, jamais celle d'une "
                        "voisine) ou un indicateur (population, superficie, communes) ; défaut : "
                        "l'étape quand le registre en donne, cpts sinon")


def _columns_arg(p: argparse.ArgumentParser, *kinds: str) -> None:
    """--colonnes, for the tables of ``kinds`` the command reads."""
    p.add_argument("--colonnes", metavar="CHAMP=EN-TÊTE,…",
                   help="en-têtes de vos fichiers que la commande ne reconnaît pas, ex. "
                        "\"cpts_id=N° CPTS,commune_code=Code INSEE\" (les noms de l'argument columns= "
                        "en Python ; un champ inconnu est refusé avec la liste des champs possibles)")
    p.set_defaults(colonnes_kinds=kinds)


def _registry_args(p: argparse.ArgumentParser, *kinds: str) -> None:
    """REGISTRE, its area, passage table, stages and populations, and how to read them."""
    _reading_args(p)
    _columns_arg(p, "registry", "population", *kinds)
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre CSV/XLSX/GPKG, ou périmètres (polygones) ; "
                        "par défaut le registre illustratif des Hauts-de-France")
    p.add_argument("--region", help="code INSEE ou nom de la région des communes, ex. 32")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements, ex. 59 62")
    p.add_argument("--passage", metavar="FICHIER",
                   help="table de passage INSEE pour les anciens codes commune (l'historique "
                        "INSEE 2008–2025 est déjà inclus)")
    _stage_arg(p)
    _population_args(p)


def _population_args(p: argparse.ArgumentParser) -> None:
    """--population and its vintages."""
    p.add_argument("--population", metavar="FICHIER",
                   help="vos populations (CSV/XLSX : code commune, population) à la place de la "
                        "population municipale 2021 embarquée")
    p.add_argument("--millesime-population", dest="millesime_population", type=int, metavar="AAAA",
                   help="millésime des populations de --population, ex. 2022 (obligatoire avec elle)")
    p.add_argument("--cog-population", dest="cog_population", type=int, metavar="AAAA",
                   help="millésime du COG des codes de --population (défaut : reconnu)")


def _postgis_args(p: argparse.ArgumentParser) -> None:
    """--postgis, --schema, --remplacer."""
    p.add_argument("--postgis", metavar="URL",
                   help="écrire aussi dans PostGIS : postgresql://utilisateur:mot_de_passe@hôte/base")
    p.add_argument("--schema", default="cpts", help="schéma PostGIS (défaut cpts)")
    p.add_argument("--remplacer", action="store_true",
                   help="remplacer les tables PostGIS existantes")


def _add_communes(sub: _Subparsers) -> None:
    """``cpts-geo communes`` and its options."""
    p = sub.add_parser("communes", help="résumé de la couche communale embarquée")
    p.add_argument("--region", help="code INSEE ou nom de la région, ex. 32 ou Hauts-de-France")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements, ex. 59 62")
    p.set_defaults(command="communes")


def _add_validate(sub: _Subparsers) -> None:
    """``cpts-geo valider`` and its options."""
    p = sub.add_parser("valider", aliases=["validate"], help="vérifier un registre de CPTS (chevauchements, codes, étapes)")
    _registry_args(p)
    p.set_defaults(command="validate")


def _add_territories(sub: _Subparsers) -> None:
    """``cpts-geo territoires`` and its options."""
    p = sub.add_parser("territoires", aliases=["territories"], help="construire les territoires d'un registre (GeoPackage + CSV)")
    _registry_args(p)
    p.add_argument("-o", "--sortie", "--output", dest="output", default="maps/territoires.gpkg", metavar="FICHIER.gpkg",
                   help="couches écrites, d'après l'extension : .gpkg (QGIS, styles inclus), .parquet "
                        "(GeoParquet), .geojson, .shp ; le résumé CSV est écrit à côté")
    p.add_argument("--tableau", metavar="FICHIER",
                   help="tableaux : .csv (résumé des territoires, pour Excel) ou .xlsx (feuilles "
                        "territoires, communes, zones blanches, problèmes) ; défaut : le CSV à côté")
    p.add_argument("--crs", metavar="CRS",
                   help="projection de toutes les couches, ex. EPSG:2154 (défaut : Lambert-93 en "
                        "métropole, la projection officielle de chaque DROM)")
    _postgis_args(p)
    p.set_defaults(command="territories")


def _add_flows(sub: _Subparsers) -> None:
    """``cpts-geo flux`` and its options."""
    p = sub.add_parser("flux", aliases=["flows"], help="indicateurs de flux de patients par CPTS (rétention, fuite, attraction)")
    _flow_table_args(p)
    _registry_args(p, "flows")
    p.add_argument("--seuil", type=_decimal, default=10, metavar="N",
                   help="secret statistique : masquer les volumes < N (défaut 10)")
    p.add_argument("-o", "--sortie", "--output", dest="output", default="indicateurs_flux.csv", metavar="FICHIER.csv",
                   help="indicateurs par CPTS (CSV ou XLSX) ; fuites, signalements et rapport des "
                        "codes (_codes) écrits à côté")
    p.set_defaults(command="flows")


def _add_offre(sub: _Subparsers) -> None:
    """``cpts-geo offre`` and its options."""
    p = sub.add_parser("offre", help="densité et accessibilité des professionnels par CPTS (BPE ou table)")
    p.add_argument("supply", metavar="PROFESSIONNELS",
                   help="BPE de l'INSEE (DEPCOM;TYPEQU;NB_EQUIP, ou colonnes D201…) ou table "
                        "code commune / profession / effectif (CSV, XLSX, Parquet)")
    _registry_args(p, "supply")
    p.add_argument("--format", choices=["auto", "bpe", "table"],
                   help="format de PROFESSIONNELS (défaut : reconnu d'après les colonnes)")
    p.add_argument("--code", help="colonne du code commune (table générique)")
    p.add_argument("--profession", help="colonne de la profession")
    p.add_argument("--effectif", help="colonne de l'effectif")
    p.add_argument("--professions", nargs="+", metavar="PROFESSION",
                   help="professions retenues (défaut : toutes celles présentes)")
    p.add_argument("--minutes", type=float,
                   help="portée de l'accessibilité en minutes, au plus 20 (défaut 20 ; paliers "
                        "DREES : poids nul à partir de 20 minutes)")
    p.add_argument("--temps", metavar="FICHIER",
                   help="temps de trajet réels entre communes (origine, destination, minutes : distancier Metric-OSRM de l'INSEE, table OSRM) au lieu des temps estimés")
    p.add_argument("-o", "--sortie", "--output", dest="output", default="offre_cpts.csv", metavar="FICHIER.csv",
                   help="tableau par CPTS et profession (CSV pour Excel)")
    p.set_defaults(command="offre")


def _add_perimeters(sub: _Subparsers) -> None:
    """``cpts-geo perimetres`` and its options."""
    p = sub.add_parser("perimetres", help="propositions de périmètres par les flux (règle de Coombes–Bond)")
    _flow_table_args(p)
    p.add_argument("--region", help="code INSEE de la région à découper")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="départements à découper, ex. 61")
    p.add_argument("--registre", metavar="REGISTRE",
                   help="registre actuel : ses communes sont laissées hors des propositions, "
                        "et une comparaison est écrite")
    p.add_argument("--chevauchement", action="store_true",
                   help="regrouper aussi les communes déjà dans une CPTS")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("--min-autonomie", type=_decimal, default=0.6, help="autonomie minimale (défaut 0,6)")
    p.add_argument("--autonomie-cible", type=_decimal, default=0.75, help="autonomie cible (défaut 0,75)")
    p.add_argument("--taille-min", type=_decimal, default=10_000,
                   help="population minimale d'une zone (défaut 10 000)")
    p.add_argument("--taille-cible", type=_decimal, default=40_000,
                   help="population cible d'une zone (défaut 40 000)")
    p.add_argument("--seuil", type=_decimal, default=10, metavar="N",
                   help="secret statistique : masquer dans les indicateurs des zones les volumes < N "
                        "(défaut 10)")
    p.add_argument("-o", "--sortie", "--output", dest="output", default="perimetres_proposes.csv", metavar="FICHIER.csv",
                   help="registre proposé (CSV) ; indicateurs des zones, comparaison et rapport des "
                        "codes écrits à côté")
    _stage_arg(p, default=False)
    _reading_args(p)
    _columns_arg(p, "flows", "registry")
    p.set_defaults(command="perimeters")


def _add_funding(sub: _Subparsers) -> None:
    """``cpts-geo financement`` and its options."""
    p = sub.add_parser("financement", aliases=["funding"], help="financement ACI par mission (une taille, ou chaque CPTS d'un registre)")
    p.add_argument("--taille", "--tier", dest="tier", type=int, metavar="N", help="taille de la CPTS (1 à 4)")
    p.add_argument("--registre", "--registry", dest="registry", default=None, metavar="REGISTRE",
                   help="registre : un tableau par CPTS (défaut sans --taille : registre illustratif)")
    p.add_argument("--region", help="code INSEE de la région des communes")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements")
    p.add_argument("--membres", "--members", dest="members", type=int, help="nombre de membres (majoration de 10 %% en taille 4 dès 100)")
    p.add_argument("--annee", choices=["premiere", "suivante"], default="premiere",
                   help="année du plan de crise : 1re rédaction ou mise à jour")
    p.add_argument("--sans-crise", action="store_true", help="sans survenue de crise sanitaire grave")
    p.add_argument("--sans-optionnelles", action="store_true", help="sans les missions optionnelles")
    p.add_argument("-o", "--sortie", "--csv", dest="csv", metavar="FICHIER",
                   help="écrire le tableau : .csv (pour Excel) ou .xlsx")
    _stage_arg(p, default=False)
    _reading_args(p)
    _columns_arg(p, "registry", "population")
    _population_args(p)
    p.set_defaults(command="funding")


def _add_compare(sub: _Subparsers) -> None:
    """``cpts-geo comparer`` and its options."""
    p = sub.add_parser("comparer", aliases=["compare"],
                       help="comparer deux registres (communes déplacées, CPTS créées ou dissoutes, étapes)")
    p.add_argument("ancien", metavar="ANCIEN", help="registre de référence (ex. celui du trimestre dernier)")
    p.add_argument("nouveau", metavar="NOUVEAU", help="registre à comparer")
    p.add_argument("--region", help="code INSEE ou nom de la région des communes")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="codes ou noms de départements")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    _stage_arg(p, default=False)
    _reading_args(p)
    _columns_arg(p, "registry")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="FICHIER",
                   help="changements écrits : tableau (.csv pour Excel, .xlsx) ou couche changements "
                        "(.gpkg stylé pour QGIS, .parquet, .geojson, .shp)")
    p.set_defaults(command="compare")


def _add_maps(sub: _Subparsers) -> None:
    """``cpts-geo carte`` and its options."""
    p = sub.add_parser("carte", help="carte régionale des CPTS par étape, taille ou indicateur (HTML autonome + PNG)")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre CSV/XLSX/GPKG ou périmètres ; par défaut le registre illustratif "
                        "des Hauts-de-France")
    p.add_argument("--region", help="code INSEE ou nom de la région (déduit du registre sinon)")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    _stage_arg(p)
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="FICHIER.html",
                   help="fichier HTML écrit (défaut : maps/<région>.html)")
    p.add_argument("--fond", "--tiles", dest="fond", default=None, metavar="FOND",
                   help="fond de carte en ligne facultatif (la carte reste complète hors ligne) : osm "
                        "(OpenStreetMap), ign-plan (Plan IGN), ign-ortho (orthophotos IGN), ou une adresse "
                        "de tuiles https://…/{z}/{x}/{y}.png avec --fond-attribution")
    p.add_argument("--fond-attribution", default=None, metavar="TEXTE",
                   help="source et licence d'un fond de carte personnalisé (obligatoire avec une adresse)")
    _color_arg(p)
    p.add_argument("--sans-png", "--no-png", dest="no_png", action="store_true", help="ne pas écrire la carte imprimable PNG")
    p.add_argument("--dpi", type=_dpi, default=200, help="résolution du PNG (défaut 200, au plus 1 200)")
    _reading_args(p)
    _columns_arg(p, "registry", "population")
    _population_args(p)
    p.set_defaults(command="maps")


def _add_editor(sub: _Subparsers) -> None:
    """``cpts-geo editeur`` and its options."""
    p = sub.add_parser("editeur", aliases=["éditeur"],
                       help="éditeur de périmètres : page HTML hors ligne pour composer des CPTS commune par commune")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre des CPTS existantes, affichées par étape (facultatif ; « exemple » pour "
                        "le registre illustratif)")
    p.add_argument("--region", help="code INSEE ou nom de la région, ex. 32")
    p.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                   help="ou des départements, ex. 59 62")
    p.add_argument("--offre", dest="supply", metavar="BPE",
                   help="offre de soins (BPE de l'INSEE ou table code / profession / effectif) : "
                        "professionnels et densités par profession dans le panneau")
    p.add_argument("--temps", metavar="FICHIER",
                   help="temps de trajet réels entre communes (origine, destination, minutes : distancier Metric-OSRM "
                        "de l'INSEE, table OSRM), avec --offre : accessibilité E2SFCA par profession dans le panneau")
    p.add_argument("--arrondissements", action="store_true",
                   help="Paris, Lyon et Marseille par arrondissement municipal (sans l'option : par "
                        "arrondissement là où le registre les découpe ainsi, en entier ailleurs)")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="FICHIER.html",
                   help="page écrite (défaut : maps/editeur-<région>.html)")
    _stage_arg(p, default=False)
    _reading_args(p)
    _columns_arg(p, "registry", "supply")
    p.set_defaults(command="editor")


def _add_batch(sub: _Subparsers) -> None:
    """``cpts-geo cartes`` and its options."""
    p = sub.add_parser("cartes", aliases=["batch"], help="cartes de chaque région (et département) d'un registre, avec index")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre ; par défaut le registre illustratif des Hauts-de-France")
    p.add_argument("-o", "--sortie", "--out", dest="out", default="maps", metavar="DOSSIER", help="dossier de sortie (défaut maps)")
    p.add_argument("--par-departement", "--departements", dest="departements", action="store_true",
                   help="aussi une carte par département")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    _stage_arg(p)
    _color_arg(p)
    p.add_argument("--sans-png", "--no-png", dest="no_png", action="store_true", help="sans les cartes imprimables PNG")
    p.add_argument("--dpi", type=_dpi, default=200, help="résolution des PNG (défaut 200, au plus 1 200)")
    p.add_argument("--forcer", "--force", dest="force", action="store_true",
                   help="refaire aussi les cartes inchangées")
    _reading_args(p)
    _columns_arg(p, "registry", "population")
    _population_args(p)
    p.set_defaults(command="batch")


def _add_portrait(sub: _Subparsers) -> None:
    """``cpts-geo portrait`` and its options."""
    p = sub.add_parser("portrait", help="portrait imprimable d'une CPTS (HTML autonome, PDF), "
                       "ou de toutes les CPTS d'une région")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre CSV/XLSX/GPKG ; par défaut le registre illustratif des Hauts-de-France")
    p.add_argument("--cpts", metavar="ID", help="identifiant (ou nom) de la CPTS")
    p.add_argument("--communes", nargs="+", metavar="CODE",
                   help="périmètre en projet : codes des communes (sans registre)")
    p.add_argument("--nom", help="nom du périmètre en projet (avec --communes)")
    p.add_argument("--region", dest="region_portraits", metavar="REGION",
                   help="toutes les CPTS de cette région (code ou nom), dans un dossier avec index.html")
    p.add_argument("--toutes", action="store_true", help="toutes les CPTS du registre")
    p.add_argument("--professionnels", metavar="FICHIER",
                   help="BPE de l'INSEE ou table code commune / profession / effectif (section 5)")
    p.add_argument("--format", choices=["auto", "bpe", "table"],
                   help="format du fichier des professionnels (défaut : reconnu)")
    p.add_argument("--code", help="colonne du code commune (table générique)")
    p.add_argument("--profession", help="colonne de la profession")
    p.add_argument("--effectif", help="colonne de l'effectif")
    p.add_argument("--e2sfca", action="store_true",
                   help="ajouter l'accessibilité E2SFCA calculée par cpts_geo (avec --professionnels)")
    p.add_argument("--temps", metavar="FICHIER",
                   help="temps de trajet réels entre communes pour l'E2SFCA (origine, destination, minutes : "
                        "distancier Metric-OSRM de l'INSEE, table OSRM) au lieu des temps estimés")
    p.add_argument("--flux", metavar="FICHIER", help="table origine–destination des patients (section 7)")
    p.add_argument("--mobpro", action="store_true", help="--flux est un fichier détail MOBPRO de l'INSEE")
    p.add_argument("--indicateurs", metavar="FICHIER",
                   help="vos indicateurs par commune : code;indicateur;valeur, ou une colonne par indicateur")
    p.add_argument("--regle", action="append", metavar="INDICATEUR=REGLE",
                   help="agrégation d'un indicateur : somme (défaut), moyenne:population ou "
                        "moyenne:AUTRE_INDICATEUR (répétable)")
    p.add_argument("--annee-indicateurs", metavar="ANNEE", help="millésime des indicateurs à retenir")
    p.add_argument("--ages", metavar="FICHIER", help="population par âge : code;age;effectif (ou INSEE Nb_H, Nb_F)")
    p.add_argument("--seuil", type=_decimal, default=10, metavar="N",
                   help="secret statistique : masquer les effectifs et volumes < N (défaut 10)")
    p.add_argument("--pdf", action="store_true", help="écrire aussi le PDF (WeasyPrint, extra [pdf])")
    p.add_argument("--sans-carte", action="store_true", help="sans la carte (section 2), plus rapide")
    p.add_argument("--passage", metavar="FICHIER", help="table de passage INSEE des anciens codes")
    p.add_argument("--forcer", "--force", dest="force", action="store_true",
                   help="refaire aussi les portraits inchangés")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="SORTIE",
                   help="fichier HTML (une CPTS ; défaut portrait-<id>.html) ou dossier (défaut portraits)")
    _stage_arg(p)
    _reading_args(p)
    p.set_defaults(command="portrait")


def _add_regional(sub: _Subparsers) -> None:
    """``cpts-geo rapport`` and its options."""
    p = sub.add_parser("rapport", help="diagnostic régional d'une région ou de départements (HTML A4 autonome, PDF)")
    p.add_argument("registry", nargs="?", default=None, metavar="REGISTRE",
                   help="registre CSV/XLSX/GPKG ; par défaut le registre illustratif des Hauts-de-France")
    area = p.add_mutually_exclusive_group()
    area.add_argument("--region", help="code INSEE ou nom de la région (défaut : Hauts-de-France)")
    area.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP",
                      help="codes des départements, au lieu d'une région")
    p.add_argument("--precedent", metavar="ANCIEN", help="registre précédent : ce qui a changé depuis")
    p.add_argument("--historique", nargs="+", metavar="REGISTRE",
                   help="registres datés, du plus ancien au plus récent : évolution de la couverture")
    p.add_argument("--dates", nargs="+", metavar="DATE",
                   help="date de chaque registre de --historique (défaut : lue dans le nom du fichier)")
    p.add_argument("--pdf", action="store_true", help="écrire aussi le PDF (WeasyPrint, extra [pdf])")
    p.add_argument("--sans-carte", action="store_true", help="sans la carte, plus rapide")
    p.add_argument("--offre", dest="supply", metavar="PROFESSIONNELS",
                   help="offre de soins (BPE de l'INSEE ou table code / profession / effectif) : densité et "
                        "accessibilité E2SFCA des médecins généralistes de chaque CPTS")
    p.add_argument("--temps", metavar="FICHIER",
                   help="temps de trajet réels entre communes (distancier Metric-OSRM, table OSRM) pour "
                        "l'accessibilité, au lieu des temps estimés ; avec --offre")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="SORTIE",
                   help="fichier HTML (défaut rapport-<région>.html)")
    _stage_arg(p)
    _reading_args(p)
    p.set_defaults(command="regional")


def _add_evolution(sub: _Subparsers) -> None:
    """``cpts-geo evolution`` and its options."""
    p = sub.add_parser("evolution", help="évolution de la couverture sur des registres datés (graphique, tableau)")
    p.add_argument("registries", nargs="+", metavar="REGISTRE", help="registres, du plus ancien au plus récent")
    p.add_argument("--dates", nargs="+", metavar="DATE",
                   help="date de chaque registre (défaut : lue dans le nom du fichier, ex. registre_2024-06.csv)")
    area = p.add_mutually_exclusive_group()
    area.add_argument("--region", help="code INSEE ou nom de la région (défaut : Hauts-de-France)")
    area.add_argument("--departements", "--departments", dest="departments", nargs="+", metavar="DEP")
    p.add_argument("-o", "--sortie", "--output", dest="output", metavar="SORTIE",
                   help="graphique .png ou .svg (défaut evolution.png) ; le tableau est écrit à côté (.csv)")
    _stage_arg(p)
    _reading_args(p)
    p.set_defaults(command="evolution")


def _add_show_versions(sub: _Subparsers) -> None:
    """``cpts-geo show-versions`` (no option)."""
    p = sub.add_parser("show-versions", aliases=["versions"], help="versions des dépendances (pour un rapport de bogue)")
    p.set_defaults(command="show_versions")


#: The commands in the order ``cpts-geo --help`` lists them.
_COMMANDS: tuple[Callable[[_Subparsers], None], ...] = (
    _add_communes,
    _add_validate,
    _add_territories,
    _add_flows,
    _add_offre,
    _add_perimeters,
    _add_funding,
    _add_compare,
    _add_maps,
    _add_editor,
    _add_batch,
    _add_portrait,
    _add_regional,
    _add_evolution,
    _add_show_versions,
)


def _parser() -> argparse.ArgumentParser:
    from cpts_geo import __version__

    parser = _Parser(
        prog="cpts-geo",
        description="Diagnostic territorial et cartographie des CPTS.",
        epilog="Aide d'une commande : cpts-geo COMMANDE --help",
    )
    parser.add_argument("--version", action="version", version=f"cpts_geo {__version__}",
                        help="afficher la version et quitter")
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE")
    for add in _COMMANDS:
        add(sub)
    return parser


def _show_versions() -> int:
    """``cpts-geo show-versions``: the versions of Python, of the dependencies and of their libraries."""
    import importlib.metadata
    import platform

    print(f"python : {platform.python_version()} ({platform.platform()})")
    for pkg in ["cpts_geo", "geopandas", "shapely", "pyogrio", "pyproj", "pandas", "numpy",
                "scipy", "pyarrow", "folium", "mapclassify", "matplotlib", "openpyxl",
                "weasyprint", "sqlalchemy", "geoalchemy2", "psycopg", "playwright"]:
        try:
            version = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        print(f"{pkg} : {version}")
    import pyogrio
    import pyproj
    import shapely

    print(f"GDAL : {pyogrio.__gdal_version_string__}")
    print(f"GEOS : {shapely.geos_version_string}")
    print(f"PROJ : {pyproj.proj_version_str}")
    return 0


def _plain_fallback(err: UnicodeError) -> tuple[str, int]:
    """Write what a console's code page lacks (cp1252 on Windows) as plain text: → as ->."""
    plain = {"\u2192": "->", "\u2265": ">=", "\u2264": "<=", "\u202f": " ", "\u2013": "-", "\u2014": "-"}
    assert isinstance(err, UnicodeEncodeError)
    return "".join(plain.get(ch, "?") for ch in err.object[err.start:err.end]), err.end


def _tolerant_output() -> None:
    """Never fail on a character the terminal's encoding cannot show (e.g. output redirected
    to a file on Windows, in cp1252): it is replaced, the message still gets through."""
    import codecs

    codecs.register_error("cpts_geo_plain", _plain_fallback)
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
        if encoding not in ("utf8", "utf8sig") and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="cpts_geo_plain")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cpts-geo`` command; return its exit code.

    A user's mistake never ends in a traceback: it is printed in French on standard error.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``cpts-geo`` (default: those of the command line).

    Returns
    -------
    int
        0 on success; 2 for invalid input (with the list of problems); 1 when a file cannot
        be written; 3 when some portraits of a batch failed (the others written); 130 after
        Ctrl-C.
    """
    _tolerant_output()
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    from cpts_geo.errors import ValidationError

    try:
        if args.command == "show_versions":
            return _show_versions()
        return importlib.import_module(f"cpts_geo.cli.{args.command}").run(args)
    except ValidationError as err:
        _print_problems(err)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(_printable(f"Erreur : {err}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("Interrompu (Ctrl-C) : aucun fichier partiel n'a été laissé.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:  # folder read-only, disk full, database refused: one line, nothing half-written
        from cpts_geo.io.formats import OutputError, os_reason

        text = str(err) if isinstance(err, OutputError) else (
            f"écriture impossible ({os_reason(err)})" + (f" : {err.filename}" if err.filename else ""))
        print(_printable(f"Erreur : {text}"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

