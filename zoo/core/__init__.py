"""The core: what plugins register (specs, hooks), how they are found and kept apart (host,
registry), the errors, the environment (settings), hyper-parameters and what a task means.
Standard library and pluggy only, so that listing architectures stays instant."""
