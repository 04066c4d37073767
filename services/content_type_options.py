"""``X-Content-Type-Options: nosniff`` on every response, so a browser never runs a JSON answer as a script or page.

An error message may repeat what a caller sent (a path, a field's value): without ``nosniff`` a browser asked to load
such a response as a script or style sheet could guess it is one.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_NOSNIFF = (b"x-content-type-options", b"nosniff")


class NoSniff:
    """ASGI middleware adding ``X-Content-Type-Options: nosniff`` to responses that do not already say it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_nosniff(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                for name, _ in headers:
                    if name.lower() == _NOSNIFF[0]:
                        break
                else:
                    message = {**message, "headers": [*headers, _NOSNIFF]}
            await send(message)

        await self.app(scope, receive, send_with_nosniff)
