"""The core of Yima: configuration, database, audit chain, tokens and domain errors."""
