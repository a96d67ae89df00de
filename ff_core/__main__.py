from ff_core.cli import main

main()
