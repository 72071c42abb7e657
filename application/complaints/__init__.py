"""The commands of the complaints context and the deadline watcher."""
