from peregrine.cli.main import main

main()
