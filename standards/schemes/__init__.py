"""The bundled code scheme definitions: one JSON file per scheme, loaded by standards.formats."""
