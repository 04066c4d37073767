"""The identity domain: the certificate authorities, certificates, signing and signature validation."""

from fastapi import FastAPI

from segell.services.domains import Domain
from segell.services.identity import certificates_router, signatures_router
from segell.services.identity.ca import ensure_certificate_authorities
from segell.services.runtime import Runtime


def _create_certificate_authorities(app: FastAPI, runtime: Runtime) -> None:
    ensure_certificate_authorities(runtime)  # the first start creates them


domain = Domain(
    name="identity",
    routers=(certificates_router.router, certificates_router.public, signatures_router.router),
    start=(_create_certificate_authorities,),
    models=("segell.services.identity.models",),
)
