from pose2mesh.cli.main import main

raise SystemExit(main())
