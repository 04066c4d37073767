"""The kinds of output the other domains notarise, and how people read them: a label in Catalan, Spanish, English.

The notarisation API (`services.notary.api`) hands them to the other domains; public verification answers a
document's labels with its kind, for the pages and apps that show it to people.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from segell.services.languages import Language


@dataclass(frozen=True)
class NotarisedKind:
    """A kind of output the notary is asked for, and how people read it: ``labels[language]`` (ca, es, en)."""

    kind: str
    labels: Mapping[Language, str]


KINDS: Final[Mapping[str, NotarisedKind]] = {
    entry.kind: entry
    for entry in (
        NotarisedKind("document", {"ca": "Document", "es": "Documento", "en": "Document"}),
        NotarisedKind(
            "signed-pdf", {"ca": "Document PDF signat", "es": "Documento PDF firmado", "en": "Signed PDF document"}
        ),
        NotarisedKind(
            "cms-signature",
            {
                "ca": "Signatura electrònica separada (CAdES)",
                "es": "Firma electrónica separada (CAdES)",
                "en": "Detached electronic signature (CAdES)",
            },
        ),
        NotarisedKind(
            "certificate",
            {"ca": "Certificat electrònic", "es": "Certificado electrónico", "en": "Electronic certificate"},
        ),
        NotarisedKind(
            "certificate-revocation",
            {
                "ca": "Revocació d'un certificat electrònic",
                "es": "Revocación de un certificado electrónico",
                "en": "Revocation of an electronic certificate",
            },
        ),
        NotarisedKind(
            "dataset-version",
            {"ca": "Versió d'un conjunt de dades", "es": "Versión de un conjunto de datos", "en": "Dataset version"},
        ),
        NotarisedKind(
            "transparency-publication",
            {
                "ca": "Publicació obligatòria de transparència",
                "es": "Publicación obligatoria de transparencia",
                "en": "Mandatory transparency publication",
            },
        ),
        NotarisedKind(
            "participation-proposal",
            {
                "ca": "Versió d'una proposta ciutadana",
                "es": "Versión de una propuesta ciudadana",
                "en": "Version of a citizen proposal",
            },
        ),
        NotarisedKind(
            "participation-moderation",
            {
                "ca": "Proposta ciutadana amagada per moderació, amb el motiu",
                "es": "Propuesta ciudadana ocultada por moderación, con el motivo",
                "en": "Citizen proposal hidden by moderation, with the reason",
            },
        ),
        NotarisedKind(
            "participation-ballots",
            {
                "ca": "Arrel de Merkle de les paperetes d'una votació",
                "es": "Raíz de Merkle de las papeletas de una votación",
                "en": "Merkle root of a vote's ballots",
            },
        ),
        NotarisedKind(
            "participation-result",
            {
                "ca": "Resultat d'una votació, calculat a partir de les paperetes publicades",
                "es": "Resultado de una votación, calculado a partir de las papeletas publicadas",
                "en": "Result of a vote, computed from the published ballots",
            },
        ),
    )
}


def kinds() -> list[NotarisedKind]:
    """Every kind the other domains notarise, with its labels in Catalan, Spanish and English."""
    return list(KINDS.values())


def labels_of(kind: str | None) -> Mapping[Language, str] | None:
    """The labels of a kind Segell notarises; None for a kind an issuer named itself, or none."""
    entry = KINDS.get(kind) if kind is not None else None
    return entry.labels if entry is not None else None
