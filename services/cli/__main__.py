from segell.services.cli import main

main()
