"""The controlled vocabularies of DCAT-AP 3 a dataset's metadata takes its codes from, with labels in Catalan,
Spanish and English: the EU's data themes, its update frequencies, and the licences the catalogue offers."""

from typing import Final

#: EU Vocabularies, "Data theme" (http://publications.europa.eu/resource/authority/data-theme).
THEMES: Final[dict[str, dict[str, str]]] = {
    "AGRI": {
        "ca": "Agricultura, pesca, silvicultura i alimentació",
        "es": "Agricultura, pesca, silvicultura y alimentación",
        "en": "Agriculture, fisheries, forestry and food",
    },
    "ECON": {"ca": "Economia i finances", "es": "Economía y finanzas", "en": "Economy and finance"},
    "EDUC": {
        "ca": "Educació, cultura i esport",
        "es": "Educación, cultura y deporte",
        "en": "Education, culture and sport",
    },
    "ENER": {"ca": "Energia", "es": "Energía", "en": "Energy"},
    "ENVI": {"ca": "Medi ambient", "es": "Medio ambiente", "en": "Environment"},
    "GOVE": {"ca": "Govern i sector públic", "es": "Gobierno y sector público", "en": "Government and public sector"},
    "HEAL": {"ca": "Salut", "es": "Salud", "en": "Health"},
    "INTR": {"ca": "Qüestions internacionals", "es": "Asuntos internacionales", "en": "International issues"},
    "JUST": {
        "ca": "Justícia, sistema jurídic i seguretat pública",
        "es": "Justicia, sistema jurídico y seguridad pública",
        "en": "Justice, legal system and public safety",
    },
    "REGI": {"ca": "Regions i ciutats", "es": "Regiones y ciudades", "en": "Regions and cities"},
    "SOCI": {"ca": "Població i societat", "es": "Población y sociedad", "en": "Population and society"},
    "TECH": {"ca": "Ciència i tecnologia", "es": "Ciencia y tecnología", "en": "Science and technology"},
    "TRAN": {"ca": "Transport", "es": "Transporte", "en": "Transport"},
}
THEME_URI = "http://publications.europa.eu/resource/authority/data-theme/"

#: EU Vocabularies, "Frequency" (http://publications.europa.eu/resource/authority/frequency): the codes in use.
FREQUENCIES: Final[dict[str, dict[str, str]]] = {
    "UPDATE_CONT": {"ca": "Actualització contínua", "es": "Actualización continua", "en": "Continuously updated"},
    "HOURLY": {"ca": "Cada hora", "es": "Cada hora", "en": "Hourly"},
    "DAILY": {"ca": "Diària", "es": "Diaria", "en": "Daily"},
    "WEEKLY": {"ca": "Setmanal", "es": "Semanal", "en": "Weekly"},
    "BIWEEKLY": {"ca": "Quinzenal", "es": "Quincenal", "en": "Biweekly"},
    "MONTHLY": {"ca": "Mensual", "es": "Mensual", "en": "Monthly"},
    "BIMONTHLY": {"ca": "Bimestral", "es": "Bimestral", "en": "Bimonthly"},
    "QUARTERLY": {"ca": "Trimestral", "es": "Trimestral", "en": "Quarterly"},
    "ANNUAL_2": {"ca": "Semestral", "es": "Semestral", "en": "Semiannual"},
    "ANNUAL": {"ca": "Anual", "es": "Anual", "en": "Annual"},
    "BIENNIAL": {"ca": "Biennal", "es": "Bienal", "en": "Biennial"},
    "TRIENNIAL": {"ca": "Triennal", "es": "Trienal", "en": "Triennial"},
    "IRREG": {"ca": "Irregular", "es": "Irregular", "en": "Irregular"},
    "AS_NEEDED": {"ca": "Quan calgui", "es": "Cuando sea necesario", "en": "As needed"},
    "NEVER": {"ca": "Mai", "es": "Nunca", "en": "Never"},
    "UNKNOWN": {"ca": "Desconeguda", "es": "Desconocida", "en": "Unknown"},
}
FREQUENCY_URI = "http://publications.europa.eu/resource/authority/frequency/"

#: The licences a dataset may carry (SPDX ids): title and URL.
LICENCES: Final[dict[str, tuple[str, str]]] = {
    "CC-BY-4.0": ("Creative Commons Attribution 4.0", "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-4.0": ("Creative Commons Attribution Share-Alike 4.0", "https://creativecommons.org/licenses/by-sa/4.0/"),
    "CC0-1.0": ("Creative Commons CC0 1.0", "https://creativecommons.org/publicdomain/zero/1.0/"),
    "ODbL-1.0": ("Open Data Commons Open Database License 1.0", "https://opendatacommons.org/licenses/odbl/1-0/"),
    "ODC-BY-1.0": ("Open Data Commons Attribution License 1.0", "https://opendatacommons.org/licenses/by/1-0/"),
}

#: The resource formats the catalogue takes, and the media type each is served with.
FORMATS: Final[dict[str, str]] = {
    "CSV": "text/csv",
    "JSON": "application/json",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "GEOJSON": "application/geo+json",
}
