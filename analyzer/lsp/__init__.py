"""`gupcheck lsp`: a Language Server that publishes gupcheck's findings in an editor.

`server` speaks the protocol over standard input and output; each analysis runs in a `worker`
process, so that the editor's connection never waits on it and a failing analysis costs that run only.
"""
