"""User opt-out: identities, the hashed list file, the matcher, the purge."""
