"""The log: appending events to streams (`append`), reading them back (`read`), checkpoints (`positions`)
and upcasting old payloads (`upcasting`)."""
