modelgate-signature v1
algorithm ed25519
digest sha256:00
