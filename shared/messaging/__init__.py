"""Message contracts, topology, publisher and consumer base."""
