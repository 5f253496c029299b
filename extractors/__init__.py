"""One module per format or container. Each holds one `maldoc.extractor.Extractor` subclass;
the registry finds them by walking this package, so adding a format adds a module."""
