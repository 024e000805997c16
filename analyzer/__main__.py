from gupcheck.cli import main

main()
