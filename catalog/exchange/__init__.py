"""Catalog exchange, one module per format: ``layout`` (the tables and columns), ``workbook`` (XLSX and CSV
files), ``importer`` (the catalog import), ``dcat`` (the DCAT export), ``datapackage`` (the Data Package export)."""
