"""What every layer above may use: machine facts, the noise audit, paths, the child runner, import hiding.

Nothing here imports a deep-learning framework or another part of benchlib above it.
"""
