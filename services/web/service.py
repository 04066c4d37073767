"""What the verification page needs from the notary beyond `/v1/verify`: a document's bundle by its code."""

from sqlalchemy.orm import Session

from segell.services.errors import NotFound
from segell.services.notary import repository
from segell.services.notary import service as notary
from segell.services.notary.schemas import ProofBundle


def bundle_by_code(session: Session, code: str) -> ProofBundle:
    """The proof bundle of the document with this verification code (stored form).

    The code is printed on the document, so whoever holds it holds the document: the bundle, salt included, is
    theirs to check without Segell.
    """
    rows = repository.receipts_for_verification(session, code=code)
    if not rows:
        raise NotFound("No document has this verification code; compare it with the one printed on the document.")
    row = rows[0]
    return notary.bundle(session, row.administration_id, row.id)
