"""The front end: build configuration, discovery, and the libclang parse into facts.

The only layer that imports clang.
"""
