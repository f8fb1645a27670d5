"""Extraction: people, roles, relationships, reporters and offence indicators with context."""
