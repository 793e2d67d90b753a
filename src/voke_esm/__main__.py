from voke_esm.cli import main

main()
