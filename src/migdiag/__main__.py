try:
    from migdiag.cli import main
except KeyboardInterrupt:  # Ctrl-C while starting up: as quiet as Ctrl-C later on
    raise SystemExit(130) from None

main()
