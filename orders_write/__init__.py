"""The command side: commands, aggregates, handlers, the command bus and its HTTP face."""
