"""What both sides of the partner contract share: the wire shapes and the §5 block rules.

Imports nothing of the app, so the sandbox and Voke's ESM client read the same rules.
"""
