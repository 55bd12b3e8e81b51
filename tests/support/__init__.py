"""Stand-ins for third-party servers used by the tests (real HTTP on loopback)."""
