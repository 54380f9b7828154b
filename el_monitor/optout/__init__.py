"""User opt-out: identities and the site secret, the hashed list file, the forwarder's matcher,
the purge of stored rows and its checkpoint."""
