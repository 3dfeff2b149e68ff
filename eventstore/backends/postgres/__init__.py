"""PostgreSQL's backend: the recorder (`log`), view and rebuild tables, tamper reads, LISTEN, prepared statements."""
