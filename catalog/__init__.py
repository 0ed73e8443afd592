"""The data resource catalog: organizations, systems, data resources, fields, record validation, exchange formats."""
