"""Fiks IO's encryption: a test PKI, ASiC-E packages, CMS with KS's parameters."""
