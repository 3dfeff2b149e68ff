"""The projections of the read side; importing this package registers them."""
