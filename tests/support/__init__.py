"""Harnesses the tests share: servers, emulators, corpora and index snapshots."""
