from migdiag.cli import main

main()
