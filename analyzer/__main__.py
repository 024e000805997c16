from gupcheck.cli import run

run()
