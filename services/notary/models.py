"""The notary's own tables beyond the documents: which receipts an output was made from (its provenance)."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from segell.services.models import Base, utcnow


class DocumentSource(Base):
    """A link from a notarised output to a receipt it was made from: a signed PDF from its original, a dataset
    version from the previous one, a tally from the ballots' root. Written with the output, never changed."""

    __tablename__ = "document_sources"

    document_id: Mapped[str] = mapped_column(String(32), ForeignKey("documents.id"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(32), ForeignKey("documents.id"), primary_key=True, index=True)
    # The order the sources were named in.
    position: Mapped[int] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
