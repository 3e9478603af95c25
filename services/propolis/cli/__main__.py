from propolis.cli.main import main

main()
