"""The interoperability domain: data services administrations offer each other, the authorisations to use them per
procedure, exchanges with a legal purpose whose answers the provider seals, and the log of who looked at a
citizen's data, anchored day by day."""
